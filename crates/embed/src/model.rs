//! Running a model's audio and text towers through ONNX Runtime.
//!
//! A model directory has the Hugging Face / Xenova layout:
//!
//! ```text
//! config.json  preprocessor_config.json  tokenizer.json
//! onnx/audio_model.onnx  onnx/audio_model_fp16.onnx  onnx/audio_model_quantized.onnx
//! onnx/text_model.onnx   onnx/text_model_fp16.onnx   onnx/text_model_quantized.onnx
//! ```
//!
//! Input and output names are read from each session, never assumed: the text model gets `attention_mask` only
//! when it declares one (Xenova's export does not). Every vector returned is L2-normalised. A file's vector is
//! the mean of its L2-normalised window vectors, L2-normalised again ([`pool`]).

use std::path::{Path, PathBuf};

use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::{Tensor, ValueType};

use crate::frontend::FrontEndSpec;
use crate::{runtime, EmbedError, Result};

/// Tokens per text query, `<s>` and `</s>` included: LAION CLAP's reference truncates at 77.
pub const MAX_TEXT_TOKENS: usize = 77;

/// Which weight file of a model to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Variant {
    /// Full precision (`*_model.onnx`).
    #[default]
    Fp32,
    /// Half precision weights (`*_model_fp16.onnx`).
    Fp16,
    /// Dynamically quantised int8 weights (`*_model_quantized.onnx`).
    Int8,
}

impl Variant {
    /// The suffix of the ONNX file name in the Xenova layout.
    pub fn file_suffix(self) -> &'static str {
        match self {
            Variant::Fp32 => "",
            Variant::Fp16 => "_fp16",
            Variant::Int8 => "_quantized",
        }
    }

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Fp32 => "fp32",
            Variant::Fp16 => "fp16",
            Variant::Int8 => "int8",
        }
    }
}

impl std::str::FromStr for Variant {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "fp32" => Ok(Variant::Fp32),
            "fp16" => Ok(Variant::Fp16),
            "int8" | "quantized" => Ok(Variant::Int8),
            _ => Err(format!(
                "unknown variant '{s}': expected fp32, fp16 or int8"
            )),
        }
    }
}

/// The text tower `avx search` uses when the model directory has it and no variant is asked for: on the
/// full-size CLAP export it loads faster and agrees with fp32 (benches/variants.rs; docs/performance.md).
pub const QUERY_TEXT_VARIANT: Variant = Variant::Int8;

/// Where inference runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Device {
    /// The CPU.
    #[default]
    Cpu,
    /// NVIDIA GPUs through the CUDA execution provider.
    Cuda,
    /// Apple's CoreML (Neural Engine / GPU).
    CoreMl,
    /// The first available of CUDA, CoreML, CPU.
    Auto,
}

impl Device {
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Device::Cpu => "cpu",
            Device::Cuda => "cuda",
            Device::CoreMl => "coreml",
            Device::Auto => "auto",
        }
    }
}

impl std::str::FromStr for Device {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "cpu" => Ok(Device::Cpu),
            "cuda" => Ok(Device::Cuda),
            "coreml" => Ok(Device::CoreMl),
            "auto" => Ok(Device::Auto),
            _ => Err(format!(
                "unknown device '{s}': expected cpu, cuda, coreml or auto"
            )),
        }
    }
}

/// How sessions are built.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// Weight variant.
    pub variant: Variant,
    /// Execution device.
    pub device: Device,
    /// Intra-op threads for ONNX Runtime (0: ONNX Runtime's default, one per core).
    pub threads: usize,
    /// Graph optimisation level 0 to 3 (3: all, the default).
    pub optimization: u8,
    /// Whether ONNX Runtime's intra-op threads spin while waiting for work (its default, `true`). Spinning
    /// takes cores that decoder threads running beside inference want (`session.intra_op.allow_spinning`).
    pub spinning: bool,
    /// A directory where each model file's graph, once optimised by ONNX Runtime, is saved (keyed by the
    /// file's sha256, the ONNX Runtime version and the level) and loaded from on later starts, skipping the
    /// graph optimisation (CPU only; `None`: optimise on every load). See [`open_session`].
    pub optimized_cache: Option<PathBuf>,
    /// How sessions are created and first run: settings that change time and memory, never the vectors.
    pub load: LoadTuning,
}

/// ONNX Runtime settings for creating a session and for its first run. None of them changes a vector
/// (tests/session_cache.rs); `benches/cold_start.rs` measures each against the others in one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadTuning {
    /// Save the optimised graph ([`SessionOptions::optimized_cache`]) in ONNX Runtime's own format (`.ort`, a
    /// flatbuffer) and create later sessions over a memory map of it, using its weights in place
    /// (`session.use_ort_model_bytes_directly`, `session.use_ort_model_bytes_for_initializers`) instead of
    /// parsing a protobuf and copying every weight. `false`: the graph is saved as ONNX.
    pub ort_format: bool,
    /// Plan the first run's buffers from the shapes seen (ONNX Runtime's memory pattern, default `true`).
    pub memory_pattern: bool,
    /// Serve the CPU's buffers from an arena that grows and is kept (ONNX Runtime's default, `true`).
    pub cpu_arena: bool,
}

impl Default for LoadTuning {
    fn default() -> Self {
        LoadTuning {
            ort_format: false,
            memory_pattern: true,
            cpu_arena: true,
        }
    }
}

/// A session with the memory map its weights live in, if it was created over one ([`LoadTuning::ort_format`]).
/// The session is declared first so that it is dropped before the map.
#[derive(Debug)]
pub struct LoadedSession {
    /// The session.
    pub session: Session,
    /// The device it runs on.
    pub device: Device,
    _bytes: Option<memmap2::Mmap>,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            variant: Variant::Fp32,
            device: Device::Cpu,
            threads: 0,
            optimization: 3,
            spinning: true,
            optimized_cache: None,
            load: LoadTuning::default(),
        }
    }
}

/// The ONNX file of one tower, in a Xenova-layout directory.
pub fn tower_path(dir: &Path, tower: &str, variant: Variant) -> PathBuf {
    dir.join("onnx")
        .join(format!("{tower}_model{}.onnx", variant.file_suffix()))
}

fn model_err(path: &Path, e: impl std::fmt::Display) -> EmbedError {
    EmbedError::Model {
        path: path.to_path_buf(),
        message: e
            .to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
    }
}

/// `Config` error naming `path` when the model file is missing.
pub fn check_model_file(path: &Path) -> Result<()> {
    if path.is_file() {
        return Ok(());
    }
    Err(EmbedError::Config {
        path: path.to_path_buf(),
        message: "model file not found: fetch it with `avx model fetch` or point --model-dir at a directory in \
                  the Hugging Face/Xenova layout (onnx/audio_model.onnx, ...)"
            .into(),
    })
}

/// Where [`open_session`] keeps the optimised graph of `path` under `dir`: named by the file's sha256 (the
/// recorded one, [`crate::hashes`]: one `stat` when the file is unchanged), the ONNX Runtime version and the
/// optimisation level; `.ort` in ONNX Runtime's format ([`LoadTuning::ort_format`]), else `.onnx`.
pub fn optimized_path(
    dir: &Path,
    path: &Path,
    optimization: u8,
    ort_format: bool,
) -> Result<PathBuf> {
    let sha = crate::hashes::known_sha256(path)?;
    Ok(dir.join(format!(
        "{sha}-ort{}-O{}.{}",
        runtime::ORT_VERSION,
        optimization.min(3),
        if ort_format { "ort" } else { "onnx" }
    )))
}

/// Builds a session for one ONNX file.
///
/// With [`SessionOptions::optimized_cache`] (CPU only), the first load saves ONNX Runtime's optimised graph
/// there (written to a temporary name, then renamed) and later loads read it with graph optimisation off: the
/// same graph, without optimising it again. A saved graph that fails to load is deleted and the model file is
/// loaded as without the cache; a cache that cannot be written only costs the saving.
pub fn open_session(path: &Path, opts: &SessionOptions) -> Result<LoadedSession> {
    check_model_file(path)?;
    let ort_format = opts.load.ort_format;
    let cache = match (&opts.optimized_cache, opts.device) {
        (Some(dir), Device::Cpu) => optimized_path(dir, path, opts.optimization, ort_format).ok(),
        _ => None,
    };
    if let Some(saved) = cache.as_ref().filter(|p| p.is_file()) {
        let loaded = if ort_format {
            build_session_mapped(saved, opts)
        } else {
            build_session(saved, opts, Some(0), None)
        };
        match loaded {
            Ok(s) => return Ok(s),
            Err(e) => {
                log::warn!("{e}: loading {} instead", path.display());
                let _ = std::fs::remove_file(saved);
            }
        }
    }
    let part = cache.as_ref().and_then(|p| {
        let dir = p.parent()?;
        std::fs::create_dir_all(dir).ok()?;
        Some(p.with_extension(format!("{}.part", std::process::id())))
    });
    let mut built = build_session(path, opts, None, part.as_deref());
    if built.is_err() && part.is_some() {
        // Saving can fail where loading would not (a read-only cache): load without saving.
        built = build_session(path, opts, None, None);
    }
    if let (Some(part), Some(saved)) = (&part, &cache) {
        if built.is_ok() && part.is_file() {
            if let Err(e) = std::fs::rename(part, saved) {
                log::warn!("cannot keep the optimised model {}: {e}", saved.display());
            }
        }
        let _ = std::fs::remove_file(part);
    }
    built
}

/// A session builder for `path` with `opts`' threads, spinning and [`LoadTuning`], at `level`.
fn builder(
    path: &Path,
    opts: &SessionOptions,
    level: u8,
) -> Result<ort::session::builder::SessionBuilder> {
    let env = runtime::environment()?;
    let level = match level {
        0 => GraphOptimizationLevel::Disable,
        1 => GraphOptimizationLevel::Level1,
        2 => GraphOptimizationLevel::Level2,
        _ => GraphOptimizationLevel::Level3,
    };
    let err = |e: ort::Error<ort::session::builder::SessionBuilder>| model_err(path, e);
    let mut builder = Session::builder(env)
        .map_err(|e| model_err(path, e))?
        .with_optimization_level(level)
        .map_err(err)?;
    if opts.threads > 0 {
        builder = builder.with_intra_threads(opts.threads).map_err(err)?;
    }
    if !opts.spinning {
        builder = builder.with_intra_op_spinning(false).map_err(err)?;
    }
    let tune = &opts.load;
    if !tune.memory_pattern {
        builder = builder.with_memory_pattern(false).map_err(err)?;
    }
    if !tune.cpu_arena && opts.device == Device::Cpu {
        builder = builder
            .with_execution_providers([ort::ep::CPU::default().with_arena_allocator(false).build()])
            .map_err(err)?;
    }
    Ok(builder)
}

/// One session from `path`, at `level` (default: the options' level), saving the optimised graph to `save`
/// (in ONNX Runtime's format with [`LoadTuning::ort_format`]).
fn build_session(
    path: &Path,
    opts: &SessionOptions,
    level: Option<u8>,
    save: Option<&Path>,
) -> Result<LoadedSession> {
    let mut builder = builder(path, opts, level.unwrap_or(opts.optimization))?;
    if let Some(save) = save {
        if opts.load.ort_format {
            builder = builder
                .with_config_entry("session.save_model_format", "ORT")
                .map_err(|e| model_err(path, e))?;
        }
        builder = builder
            .with_optimized_model_path(save)
            .map_err(|e| model_err(path, e))?;
    }
    let (mut builder, device) = crate::device::register(builder, opts.device, path)?;
    let session = builder
        .commit_from_file(path)
        .map_err(|e| model_err(path, e))?;
    Ok(LoadedSession {
        session,
        device,
        _bytes: None,
    })
}

/// A CPU session over a memory map of a saved ORT-format graph, its weights used where they lie in the map.
fn build_session_mapped(saved: &Path, opts: &SessionOptions) -> Result<LoadedSession> {
    let file = std::fs::File::open(saved).map_err(|e| EmbedError::io(saved, e))?;
    // SAFETY: the map is read-only, and the cache's files are written under a temporary name and renamed into
    // place, never rewritten in place, so the mapped bytes do not change under the session, which is dropped
    // before the map (`LoadedSession`).
    let bytes = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| EmbedError::io(saved, e))?;
    if bytes.get(4..8) != Some(b"ORTM".as_slice()) {
        return Err(model_err(saved, "not an ORT-format graph"));
    }
    let mut builder = builder(saved, opts, 0)?;
    for key in [
        "session.use_ort_model_bytes_directly",
        "session.use_ort_model_bytes_for_initializers",
    ] {
        builder = builder
            .with_config_entry(key, "1")
            .map_err(|e| model_err(saved, e))?;
    }
    let session = builder
        .commit_from_memory(&bytes)
        .map_err(|e| model_err(saved, e))?;
    Ok(LoadedSession {
        session,
        device: Device::Cpu,
        _bytes: Some(bytes),
    })
}

/// L2-normalises `v` in place. A zero vector stays zero.
pub fn l2_normalize(v: &mut [f32]) {
    let norm = v
        .iter()
        .map(|x| (*x as f64) * (*x as f64))
        .sum::<f64>()
        .sqrt();
    if norm > 0.0 {
        let inv = (1.0 / norm) as f32;
        v.iter_mut().for_each(|x| *x *= inv);
    }
}

/// A file's vector from its window vectors: the mean of the L2-normalised windows, L2-normalised.
pub fn pool<V: AsRef<[f32]>>(windows: &[V]) -> Vec<f32> {
    let Some(first) = windows.first() else {
        return Vec::new();
    };
    let mut acc = vec![0f64; first.as_ref().len()];
    for w in windows {
        let w = w.as_ref();
        let norm = w.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
        let inv = if norm > 0.0 { 1.0 / norm } else { 0.0 };
        for (a, x) in acc.iter_mut().zip(w) {
            *a += *x as f64 * inv;
        }
    }
    let mut out: Vec<f32> = acc
        .iter()
        .map(|a| (*a / windows.len() as f64) as f32)
        .collect();
    l2_normalize(&mut out);
    out
}

fn float_output(session: &Session, path: &Path, preferred: &[&str]) -> Result<String> {
    let outs = session.outputs();
    for name in preferred {
        if outs.iter().any(|o| o.name() == *name) {
            return Ok(name.to_string());
        }
    }
    outs.first()
        .map(|o| o.name().to_string())
        .ok_or_else(|| model_err(path, "the model declares no outputs"))
}

/// Runs a session with named inputs and returns the named output as `[rows, dim]`, each row L2-normalised.
fn run_rows(
    session: &mut Session,
    path: &Path,
    inputs: Vec<(String, ort::value::DynValue)>,
    output: &str,
) -> Result<(usize, Vec<f32>)> {
    let inputs: Vec<(
        std::borrow::Cow<'_, str>,
        ort::session::SessionInputValue<'_>,
    )> = inputs
        .into_iter()
        .map(|(n, v)| (std::borrow::Cow::Owned(n), v.into()))
        .collect();
    let outputs = session.run(inputs).map_err(|e| model_err(path, e))?;
    let value = outputs
        .get(output)
        .ok_or_else(|| model_err(path, format!("output '{output}' missing")))?;
    let (shape, data) = value
        .try_extract_tensor::<f32>()
        .map_err(|e| model_err(path, e))?;
    let dim = *shape.last().unwrap_or(&0) as usize;
    if dim == 0 || data.len() % dim != 0 {
        return Err(model_err(
            path,
            format!("unexpected output shape {shape:?}"),
        ));
    }
    let mut data = data.to_vec();
    data.chunks_mut(dim).for_each(l2_normalize);
    Ok((dim, data))
}

/// The audio tower: model-input windows in, L2-normalised vectors out.
#[derive(Debug)]
pub struct AudioEncoder {
    session: LoadedSession,
    path: PathBuf,
    input: String,
    output: String,
    input_shape: Vec<usize>,
    device: Device,
}

impl AudioEncoder {
    /// Opens `path`, whose one float input takes windows of `input_shape` (without the batch axis).
    pub fn open(path: &Path, input_shape: &[usize], opts: &SessionOptions) -> Result<Self> {
        let session = open_session(path, opts)?;
        let device = session.device;
        let input = session
            .session
            .inputs()
            .iter()
            .find(|i| {
                matches!(i.dtype(), ValueType::Tensor { ty, .. } if *ty == ort::value::TensorElementType::Float32)
            })
            .map(|i| i.name().to_string())
            .ok_or_else(|| model_err(path, "the audio model has no float32 input"))?;
        let output = float_output(&session.session, path, &["audio_embeds", "embedding"])?;
        Ok(AudioEncoder {
            session,
            path: path.to_path_buf(),
            input,
            output,
            input_shape: input_shape.to_vec(),
            device,
        })
    }

    /// Opens the audio tower of a Xenova-layout model directory for `spec`'s windows.
    pub fn open_dir(dir: &Path, spec: &FrontEndSpec, opts: &SessionOptions) -> Result<Self> {
        Self::open(
            &tower_path(dir, "audio", opts.variant),
            &spec.input_shape(),
            opts,
        )
    }

    /// The device the session runs on.
    pub fn device(&self) -> Device {
        self.device
    }

    /// The model file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Embeds a batch of windows laid out back to back; returns `(dim, rows)` with one L2-normalised row each.
    pub fn embed(&mut self, windows: &[&[f32]]) -> Result<(usize, Vec<f32>)> {
        let per: usize = self.input_shape.iter().product();
        let mut data = Vec::with_capacity(per * windows.len());
        for w in windows {
            if w.len() != per {
                return Err(model_err(
                    &self.path,
                    format!("window has {} values, the model takes {per}", w.len()),
                ));
            }
            data.extend_from_slice(w);
        }
        let mut shape = vec![windows.len() as i64];
        shape.extend(self.input_shape.iter().map(|d| *d as i64));
        let tensor = Tensor::from_array((shape, data)).map_err(|e| model_err(&self.path, e))?;
        let output = self.output.clone();
        let input = self.input.clone();
        run_rows(
            &mut self.session.session,
            &self.path.clone(),
            vec![(input, tensor.into_dyn())],
            &output,
        )
    }
}

/// The text tower with its tokenizer.
#[derive(Debug)]
pub struct TextEncoder {
    session: LoadedSession,
    tokenizer: tokenizers::Tokenizer,
    path: PathBuf,
    ids_input: String,
    mask_input: Option<String>,
    output: String,
}

impl TextEncoder {
    /// Opens the text tower and `tokenizer.json` of a Xenova-layout model directory.
    pub fn open_dir(dir: &Path, opts: &SessionOptions) -> Result<Self> {
        Self::open(
            &tower_path(dir, "text", opts.variant),
            &dir.join("tokenizer.json"),
            opts,
        )
    }

    /// Opens a text tower and a tokenizer file.
    pub fn open(model: &Path, tokenizer: &Path, opts: &SessionOptions) -> Result<Self> {
        let mut tok =
            tokenizers::Tokenizer::from_file(tokenizer).map_err(|e| EmbedError::Config {
                path: tokenizer.to_path_buf(),
                message: format!("cannot read tokenizer: {e}"),
            })?;
        tok.with_truncation(Some(tokenizers::TruncationParams {
            max_length: MAX_TEXT_TOKENS,
            ..Default::default()
        }))
        .map_err(|e| EmbedError::Config {
            path: tokenizer.to_path_buf(),
            message: format!("cannot set truncation: {e}"),
        })?;
        tok.with_padding(None);
        let session = open_session(model, opts)?;
        let names: Vec<String> = session
            .session
            .inputs()
            .iter()
            .map(|i| i.name().to_string())
            .collect();
        let ids_input = names
            .iter()
            .find(|n| n.as_str() == "input_ids")
            .or_else(|| names.first())
            .cloned()
            .ok_or_else(|| model_err(model, "the text model declares no inputs"))?;
        let mask_input = names
            .iter()
            .find(|n| n.as_str() == "attention_mask")
            .cloned();
        if let Some(other) = names
            .iter()
            .find(|n| **n != ids_input && Some(*n) != mask_input.as_ref())
        {
            return Err(model_err(
                model,
                format!("the text model asks for an input avx does not know: '{other}'"),
            ));
        }
        let output = float_output(&session.session, model, &["text_embeds"])?;
        Ok(TextEncoder {
            session,
            tokenizer: tok,
            path: model.to_path_buf(),
            ids_input,
            mask_input,
            output,
        })
    }

    /// The model file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the model takes an `attention_mask` input.
    pub fn has_attention_mask(&self) -> bool {
        self.mask_input.is_some()
    }

    /// The token ids fed to the model for `text` (special tokens included, truncated to [`MAX_TEXT_TOKENS`]).
    pub fn tokenize(&self, text: &str) -> Result<Vec<i64>> {
        let enc = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| model_err(&self.path, format!("cannot tokenize: {e}")))?;
        Ok(enc.get_ids().iter().map(|i| *i as i64).collect())
    }

    /// Embeds one text; returns its L2-normalised vector. Queries run one at a time, so no padding token is ever
    /// attended, with or without an attention mask.
    pub fn embed(&mut self, text: &str) -> Result<Vec<f32>> {
        let ids = self.tokenize(text)?;
        let n = ids.len() as i64;
        let mut inputs = Vec::new();
        let t = Tensor::from_array((vec![1, n], ids)).map_err(|e| model_err(&self.path, e))?;
        inputs.push((self.ids_input.clone(), t.into_dyn()));
        if let Some(mask) = &self.mask_input {
            let m = Tensor::from_array((vec![1, n], vec![1i64; n as usize]))
                .map_err(|e| model_err(&self.path, e))?;
            inputs.push((mask.clone(), m.into_dyn()));
        }
        let output = self.output.clone();
        let path = self.path.clone();
        run_rows(&mut self.session.session, &path, inputs, &output).map(|(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_is_mean_of_normalised_then_normalised() {
        let a = vec![3.0, 0.0];
        let b = vec![0.0, 0.5];
        let p = pool(&[a, b]);
        let s = std::f32::consts::FRAC_1_SQRT_2;
        assert!((p[0] - s).abs() < 1e-6 && (p[1] - s).abs() < 1e-6, "{p:?}");
    }

    #[test]
    fn normalise_leaves_zero_alone() {
        let mut z = vec![0.0f32; 4];
        l2_normalize(&mut z);
        assert_eq!(z, vec![0.0; 4]);
        let mut v = vec![3.0f32, 4.0];
        l2_normalize(&mut v);
        assert_eq!(v, vec![0.6, 0.8]);
    }

    #[test]
    fn variant_and_device_parse() {
        assert_eq!("int8".parse::<Variant>().unwrap(), Variant::Int8);
        assert_eq!(
            "quantized".parse::<Variant>().unwrap().file_suffix(),
            "_quantized"
        );
        assert!("fp8".parse::<Variant>().is_err());
        assert_eq!("auto".parse::<Device>().unwrap(), Device::Auto);
        assert!("tpu".parse::<Device>().is_err());
    }

    #[test]
    fn tower_paths_follow_xenova_layout() {
        let p = tower_path(Path::new("/m"), "audio", Variant::Fp16);
        assert_eq!(p, Path::new("/m/onnx/audio_model_fp16.onnx"));
    }
}
