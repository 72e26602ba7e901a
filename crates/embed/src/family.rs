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

use crate::blocks::{BlockSpec, BlockStream, CenterPad, Compression, FilterNorm, Level};
use crate::frontend::{FrontEndSpec, MelNorm, MelScale, Padding};
use crate::soundprint::SoundPrint;
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

    /// Whether `hop_s` seconds can be the hop between input starts, and if not why (the range this front end
    /// accepts): the check every file's stream makes, for a caller to make once before any file.
    pub fn check_hop(&self, hop_s: f64) -> std::result::Result<(), String> {
        match self {
            ModelFrontEnd::Windows(s) => s.check_hop(hop_s).map(drop),
            ModelFrontEnd::Blocks(s) => s.check_hop(hop_s).map(drop),
        }
    }

    /// The default seconds between input starts: CLAP's consecutive windows, aiSFX's half-block hop.
    pub fn default_hop_seconds(&self) -> f64 {
        match self {
            ModelFrontEnd::Windows(s) => s.window_seconds(),
            ModelFrontEnd::Blocks(s) => s.hop_seconds(),
        }
    }

    /// The front end as canonical text, for an index's settings: what makes two indexes' vectors comparable
    /// (`index-format.md`, "Front-end text"). `family` is the model family (`clap`, `aisfx`), `hop_s` the seconds
    /// between window starts the index uses.
    ///
    /// Every key and value is written here by hand, never derived from a Rust name, so renaming a field or a
    /// variant changes nothing; a new front-end parameter must be added here (and to index-format.md).
    pub fn canonical(&self, family: &str, hop_s: f64) -> String {
        let mut t = format!("{FRONTEND_TEXT_VERSION} family={}", token(family));
        let mut kv = |k: &str, v: String| {
            t.push(' ');
            t.push_str(k);
            t.push('=');
            t.push_str(&v);
        };
        match self {
            ModelFrontEnd::Windows(s) => {
                let p = s.params();
                kv("kind", "windows".into());
                kv("sample_rate", p.sample_rate.to_string());
                kv("n_fft", p.n_fft.to_string());
                kv("hop_length", p.hop_length.to_string());
                kv("n_mels", p.n_mels.to_string());
                kv("f_min", p.f_min.to_string());
                kv("f_max", p.f_max.to_string());
                kv("window_samples", p.window_samples.to_string());
                kv("mel_scale", mel_scale(p.mel_scale).into());
                let norm = match p.norm {
                    MelNorm::None => "none",
                    MelNorm::Slaney => "slaney",
                };
                kv("mel_norm", norm.into());
                let padding = match p.padding {
                    Padding::RepeatPad => "repeatpad",
                    Padding::Repeat => "repeat",
                    Padding::Pad => "pad",
                };
                kv("padding", padding.into());
            }
            ModelFrontEnd::Blocks(s) => {
                let p = s.params();
                kv("kind", "blocks".into());
                kv("sample_rate", p.sample_rate.to_string());
                let level = match p.level {
                    Level::None => "none",
                    Level::Peak => "peak",
                };
                kv("level", level.into());
                kv("n_fft", p.n_fft.to_string());
                kv("hop_length", p.hop_length.to_string());
                let pad = match p.center_pad {
                    CenterPad::Constant => "constant",
                    CenterPad::Reflect => "reflect",
                };
                kv("center_pad", pad.into());
                kv("n_mels", p.n_mels.to_string());
                kv("f_min", p.f_min.to_string());
                kv("f_max", p.f_max.to_string());
                kv("mel_scale", mel_scale(p.mel_scale).into());
                let norm = match p.mel_norm {
                    FilterNorm::None => "none",
                    FilterNorm::Slaney => "slaney",
                    FilterNorm::L1 => "l1",
                };
                kv("mel_norm", norm.into());
                match p.compression {
                    Compression::Log10Affine {
                        scale,
                        offset,
                        divisor,
                    } => kv(
                        "compression",
                        format!("log10_affine:{scale}:{offset}:{divisor}"),
                    ),
                }
                kv("block_frames", p.block_frames.to_string());
                kv("hop_frames", p.hop_frames.to_string());
            }
        }
        kv("hop_s", hop_s.to_string());
        t
    }

    /// The CLAP window front end, if this is one.
    pub fn windows(&self) -> Option<&FrontEndSpec> {
        match self {
            ModelFrontEnd::Windows(s) => Some(s),
            ModelFrontEnd::Blocks(_) => None,
        }
    }
}

/// The first word of [`ModelFrontEnd::canonical`]'s text; a change of its layout changes the number.
pub const FRONTEND_TEXT_VERSION: &str = "avx-frontend/1";

/// A family name as one token of the canonical text (no spaces or `=`).
fn token(s: &str) -> String {
    let t: String = s
        .chars()
        .map(|c| {
            if c.is_whitespace() || c == '=' {
                '_'
            } else {
                c
            }
        })
        .collect();
    if t.is_empty() {
        "unknown".into()
    } else {
        t
    }
}

fn mel_scale(m: MelScale) -> &'static str {
    match m {
        MelScale::Slaney => "slaney",
        MelScale::Htk => "htk",
    }
}

/// A value of a front-end text: `key=value` of [`ModelFrontEnd::canonical`]'s text.
pub fn frontend_text_value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    if !text.starts_with(FRONTEND_TEXT_VERSION) {
        return None;
    }
    text.split(' ')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

/// The seconds between window starts recorded in a front-end text: `hop_s=` of the canonical text, or the
/// ` hop=` suffix that indexes made before it carry.
pub fn frontend_text_hop(text: &str) -> Option<f64> {
    match frontend_text_value(text, "hop_s") {
        Some(v) => v.parse().ok(),
        None => text.rsplit_once(" hop=")?.1.parse().ok(),
    }
}

/// The model family of an index's settings: its `family` field, or for indexes made before that field, the
/// family their front-end text implies (`FrontEndSpec ...`: CLAP windows; `BlockSpec ...`: aiSFX blocks, the
/// only block family then).
pub fn family_of(family_field: &str, frontend_text: &str) -> String {
    if !family_field.is_empty() {
        return family_field.to_string();
    }
    if let Some(f) = frontend_text_value(frontend_text, "family") {
        return f.to_string();
    }
    let legacy = if frontend_text.starts_with("BlockSpec") {
        "aisfx"
    } else if frontend_text.starts_with("FrontEndSpec") {
        "clap"
    } else {
        "unknown"
    };
    legacy.to_string()
}

/// The family of a CLAP model directory (Hugging Face/Xenova layout): they have no family field.
pub const CLAP_FAMILY: &str = "clap";

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
        Self::open_printing(path, fe, hop_s, false)
    }

    /// [`ModelInputs::open`]; with `print` set, the file's [`SoundPrint`] is also made from the same decoded
    /// samples (one decode for both), for [`ModelInputs::take_print`] after the last input.
    pub fn open_printing(path: &Path, fe: &ModelFrontEnd, hop_s: f64, print: bool) -> Result<Self> {
        Ok(match fe {
            ModelFrontEnd::Windows(s) => {
                let stream = WindowStream::open(path, s, hop_s)?;
                ModelInputs::Windows(Box::new(if print { stream.printing() } else { stream }))
            }
            ModelFrontEnd::Blocks(s) => {
                ModelInputs::Blocks(Box::new(BlockStream::open_printing(path, s, hop_s, print)?))
            }
        })
    }

    /// The file's sound print, after the last input, when [`ModelInputs::open_printing`] asked for it.
    pub fn take_print(&mut self) -> Option<SoundPrint> {
        match self {
            ModelInputs::Windows(s) => s.take_print(),
            ModelInputs::Blocks(s) => s.take_print(),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The canonical texts of the two shipped front ends, pinned: they are stored in every index
    /// (index-format.md, "Front-end text"), so any change here makes existing indexes refuse new vectors.
    #[test]
    fn canonical_front_end_texts_are_pinned() {
        let clap = ModelFrontEnd::from(FrontEndSpec::clap_htsat_unfused()).canonical("clap", 10.0);
        assert_eq!(
            clap,
            "avx-frontend/1 family=clap kind=windows sample_rate=48000 n_fft=1024 hop_length=480 n_mels=64 \
             f_min=50 f_max=14000 window_samples=480000 mel_scale=slaney mel_norm=slaney padding=repeatpad hop_s=10"
        );
        let aisfx = ModelFrontEnd::from(BlockSpec::aisfx()).canonical("aisfx", 1.1609977324263039);
        assert_eq!(
            aisfx,
            "avx-frontend/1 family=aisfx kind=blocks sample_rate=44100 level=peak n_fft=2048 hop_length=1024 \
             center_pad=constant n_mels=96 f_min=0 f_max=22050 mel_scale=htk mel_norm=l1 \
             compression=log10_affine:10000:1:9.457798957824707 block_frames=100 hop_frames=50 \
             hop_s=1.1609977324263039"
        );
        assert_eq!(frontend_text_value(&aisfx, "family"), Some("aisfx"));
        assert_eq!(frontend_text_hop(&aisfx), Some(1.1609977324263039));
        assert_eq!(family_of("", &clap), "clap");
        assert_eq!(
            ModelFrontEnd::from(BlockSpec::aisfx())
                .canonical("my family", 1.0)
                .split(' ')
                .nth(1),
            Some("family=my_family")
        );
    }

    #[test]
    fn indexes_before_the_canonical_text_keep_their_family_and_hop() {
        assert_eq!(
            family_of("", "BlockSpec { params: BlockParams { .. } } hop=1.16"),
            "aisfx"
        );
        assert_eq!(
            family_of("", "FrontEndSpec { params: FrontEndParams { .. } } hop=10"),
            "clap"
        );
        assert_eq!(family_of("aisfx", "anything"), "aisfx");
        assert_eq!(frontend_text_hop("FrontEndSpec { .. } hop=10"), Some(10.0));
        assert_eq!(frontend_text_hop("FrontEndSpec { .. }"), None);
    }
}
