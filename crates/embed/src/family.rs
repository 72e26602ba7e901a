//! A model family's front end, as data: what a model directory says its audio input is, and the one place that
//! turns a file into that input.
//!
//! - [`ModelFrontEnd::Windows`]: the signal is cut into fixed windows and each window gets its own log-mel
//!   ([`FrontEndSpec`], read from a Hugging Face `preprocessor_config.json`: CLAP).
//! - [`ModelFrontEnd::Blocks`]: one log-mel of the whole level-normalised file, cut into blocks of frames
//!   ([`BlockSpec`], read from the `frontend` object of an avx `avx-model.json`: aiSFX).
//!
//! Everything else (the embedder, the pipeline, `avx debug mel`) goes through [`ModelFrontEnd`] and
//! [`ModelInputs`], never through a family name.

use std::path::Path;

use crate::blocks::{BlockSpec, BlockStream};
use crate::frontend::FrontEndSpec;
use crate::window::{AudioInfo, Window, WindowStream};
use crate::{EmbedError, Result};

/// The file in a model directory that describes an avx-layout model (`models/aisfx/export.py` writes it).
pub const AVX_MODEL_JSON: &str = "avx-model.json";

/// How a model family turns audio into model input.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelFrontEnd {
    /// Fixed sample windows, a log-mel each (CLAP).
    Windows(FrontEndSpec),
    /// Blocks of frames of one whole-file log-mel (aiSFX).
    Blocks(BlockSpec),
}

impl From<FrontEndSpec> for ModelFrontEnd {
    fn from(s: FrontEndSpec) -> Self {
        ModelFrontEnd::Windows(s)
    }
}

impl From<BlockSpec> for ModelFrontEnd {
    fn from(s: BlockSpec) -> Self {
        ModelFrontEnd::Blocks(s)
    }
}

/// What an `avx-model.json` says about its model.
#[derive(Debug, Clone)]
pub struct AvxModelInfo {
    /// The model family (e.g. `aisfx`).
    pub family: String,
    /// Whether the directory has a text tower.
    pub text: bool,
    /// The front end.
    pub frontend: ModelFrontEnd,
}

/// Reads a model directory's `avx-model.json`.
pub fn read_avx_model(path: &Path) -> Result<AvxModelInfo> {
    let text = std::fs::read_to_string(path).map_err(|e| EmbedError::io(path, e))?;
    let bad = |message: String| EmbedError::Config {
        path: path.to_path_buf(),
        message,
    };
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| bad(format!("not a valid avx-model.json: {e}")))?;
    if v.get("format").and_then(|f| f.as_str()) != Some("avx-model") {
        return Err(bad(
            "not an avx-model.json: \"format\" is not \"avx-model\"".into(),
        ));
    }
    match v.get("format_version").and_then(|f| f.as_u64()) {
        Some(1) => {}
        other => {
            return Err(bad(format!(
                "avx-model.json format_version {other:?} is not supported (expected 1)"
            )))
        }
    }
    let family = v
        .get("family")
        .and_then(|f| f.as_str())
        .unwrap_or("")
        .to_string();
    let fe = v
        .get("frontend")
        .ok_or_else(|| bad("avx-model.json has no \"frontend\" object".into()))?;
    // Every avx-layout front end so far is a block front end; `frontend.kind` would select another.
    match fe.get("kind").and_then(|k| k.as_str()) {
        None | Some("blocks") => {}
        Some(k) => {
            return Err(bad(format!(
                "front end kind {k:?} is not supported (expected \"blocks\")"
            )))
        }
    }
    let mut fe = fe.clone();
    if let Some(o) = fe.as_object_mut() {
        o.remove("kind");
    }
    let frontend = ModelFrontEnd::Blocks(BlockSpec::from_json(&fe, path)?);
    Ok(AvxModelInfo {
        family,
        text: v.get("text").and_then(|t| t.as_bool()).unwrap_or(false),
        frontend,
    })
}

impl ModelFrontEnd {
    /// The model's sample rate in Hz.
    pub fn sample_rate(&self) -> u32 {
        match self {
            ModelFrontEnd::Windows(s) => s.sample_rate(),
            ModelFrontEnd::Blocks(s) => s.params().sample_rate,
        }
    }

    /// One model input without the batch axis (CLAP `[1, 1001, 64]`, aiSFX `[100, 96]`).
    pub fn input_shape(&self) -> Vec<usize> {
        match self {
            ModelFrontEnd::Windows(s) => s.input_shape().to_vec(),
            ModelFrontEnd::Blocks(s) => s.input_shape().to_vec(),
        }
    }

    /// Seconds of audio one model input spans.
    pub fn window_seconds(&self) -> f64 {
        match self {
            ModelFrontEnd::Windows(s) => s.window_seconds(),
            ModelFrontEnd::Blocks(s) => s.block_seconds(),
        }
    }

    /// The default seconds between input starts: CLAP's consecutive windows, aiSFX's half-block hop.
    pub fn default_hop_seconds(&self) -> f64 {
        match self {
            ModelFrontEnd::Windows(s) => s.window_seconds(),
            ModelFrontEnd::Blocks(s) => s.hop_seconds(),
        }
    }

    /// The front end's parameters as text, for an index's fingerprint (CLAP's is unchanged from earlier
    /// versions: `FrontEndSpec`'s own `Debug`).
    pub fn describe(&self) -> String {
        match self {
            ModelFrontEnd::Windows(s) => format!("{s:?}"),
            ModelFrontEnd::Blocks(s) => format!("{s:?}"),
        }
    }

    /// The CLAP window front end, if this is one.
    pub fn windows(&self) -> Option<&FrontEndSpec> {
        match self {
            ModelFrontEnd::Windows(s) => Some(s),
            ModelFrontEnd::Blocks(_) => None,
        }
    }
}

/// A file's model inputs, in order, each with its start and end in seconds.
#[derive(Debug)]
pub enum ModelInputs {
    /// CLAP windows.
    Windows(Box<WindowStream>),
    /// aiSFX blocks.
    Blocks(Box<BlockStream>),
}

impl ModelInputs {
    /// Opens `path` for the inputs of `fe`, one every `hop_s` seconds.
    pub fn open(path: &Path, fe: &ModelFrontEnd, hop_s: f64) -> Result<Self> {
        Ok(match fe {
            ModelFrontEnd::Windows(s) => {
                ModelInputs::Windows(Box::new(WindowStream::open(path, s, hop_s)?))
            }
            ModelFrontEnd::Blocks(s) => {
                ModelInputs::Blocks(Box::new(BlockStream::open(path, s, hop_s)?))
            }
        })
    }

    /// The next input, or `None` after the last.
    pub fn next_window(&mut self) -> Result<Option<Window>> {
        match self {
            ModelInputs::Windows(s) => s.next_window(),
            ModelInputs::Blocks(s) => s.next_window(),
        }
    }

    /// What is known about the file (final once `next_window` has returned `None`).
    pub fn info(&self) -> &AudioInfo {
        match self {
            ModelInputs::Windows(s) => s.info(),
            ModelInputs::Blocks(s) => s.info(),
        }
    }
}

impl Iterator for ModelInputs {
    type Item = Result<Window>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_window().transpose()
    }
}
