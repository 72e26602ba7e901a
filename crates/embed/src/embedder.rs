//! A loaded model: its front end, and (each on first use) its audio tower and its text tower. A text query
//! (`avx search`) never loads the audio tower: its fingerprint needs only the audio tower's recorded sha256
//! ([`crate::hashes`]) and the dimension `config.json` declares.

use std::path::{Path, PathBuf};

use crate::family::{read_avx_model, ModelFrontEnd, ModelInputs, AVX_MODEL_JSON, CLAP_FAMILY};
use crate::frontend::FrontEndSpec;
use crate::model::{pool, tower_path, AudioEncoder, Device, SessionOptions, TextEncoder, Variant};
use crate::window::{AudioInfo, Window};
use crate::{EmbedError, Result};

/// Version of everything between the file and the vector that is not the model itself: decoding, resampling,
/// windowing, front end and pooling. An index refuses vectors made by another pipeline version.
///
/// 2: issue 12's parity fixes (librosa's resampled length, a resampler with soxr HQ's response, MP4 and Vorbis
/// gapless trimming) change the vectors of resampled and lossy files.
pub const PIPELINE_VERSION: u32 = 2;

/// One embedded file.
#[derive(Debug, Clone)]
pub struct EmbeddedFile {
    /// The file.
    pub path: PathBuf,
    /// What the decoder learnt about it.
    pub info: AudioInfo,
    /// Each window's start and end, in seconds in the source file.
    pub windows: Vec<(f64, f64)>,
    /// Each window's L2-normalised vector.
    pub window_vectors: Vec<Vec<f32>>,
    /// The file's vector: [`pool`] of the window vectors.
    pub vector: Vec<f32>,
    /// The file's sound print, when asked for ([`PipelineOptions::prints`](crate::pipeline::PipelineOptions)).
    pub print: Option<crate::soundprint::SoundPrint>,
}

impl EmbeddedFile {
    /// `NonFiniteVector` when any of the file's vectors holds NaN or an infinity (so that no index or caller is
    /// the first to notice).
    pub fn check_finite(&self) -> Result<()> {
        let finite = |v: &Vec<f32>| v.iter().all(|x| x.is_finite());
        if finite(&self.vector) && self.window_vectors.iter().all(finite) {
            return Ok(());
        }
        Err(EmbedError::NonFiniteVector {
            path: self.path.clone(),
        })
    }
}

/// What identifies the vectors a model produces, for the index to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// Model name.
    pub model: String,
    /// sha256 of the audio tower file.
    pub audio_sha256: String,
    /// The model family (`clap`, `aisfx`): `avx-model.json`'s `family`, `clap` for Hugging Face/Xenova
    /// directories.
    pub family: String,
    /// The front end and hop as canonical text ([`ModelFrontEnd::canonical`]).
    pub frontend: String,
    /// [`PIPELINE_VERSION`].
    pub pipeline_version: u32,
    /// Embedding dimension.
    pub dim: usize,
}

/// Reads the front end a model directory asks for: an avx-layout directory's `avx-model.json` (aiSFX: written
/// by `models/aisfx/export.py`) first, else a Hugging Face/Xenova directory's `preprocessor_config.json` (CLAP).
pub fn load_spec(dir: &Path) -> Result<ModelFrontEnd> {
    load_family_spec(dir).map(|(_, spec)| spec)
}

/// [`load_spec`] with the model family (`avx-model.json`'s `family`; `clap` for a Hugging Face/Xenova
/// directory).
pub fn load_family_spec(dir: &Path) -> Result<(String, ModelFrontEnd)> {
    let avx = dir.join(AVX_MODEL_JSON);
    if avx.is_file() {
        let info = read_avx_model(&avx)?;
        return Ok((info.family, info.frontend));
    }
    let pre = dir.join("preprocessor_config.json");
    if pre.is_file() {
        let spec = FrontEndSpec::clap_from_preprocessor_config(&pre)?;
        return Ok((CLAP_FAMILY.to_string(), spec.into()));
    }
    Err(EmbedError::Config {
        path: dir.to_path_buf(),
        message: "not a model directory: no preprocessor_config.json (Hugging Face/Xenova layout, CLAP: fetch one \
                  with `avx model fetch`) and no avx-model.json (avx layout, aiSFX: make one with \
                  models/aisfx/export.py); see `avx model list`"
            .into(),
    })
}

/// Opens `path` and computes up to `n` of its windows' model input.
fn first_windows(
    path: &Path,
    spec: &ModelFrontEnd,
    hop: f64,
    n: usize,
) -> Result<(ModelInputs, Vec<Window>)> {
    let mut stream = ModelInputs::open(path, spec, hop)?;
    let mut first = Vec::with_capacity(n);
    while first.len() < n {
        match stream.next_window()? {
            Some(w) => first.push(w),
            None => break,
        }
    }
    Ok((stream, first))
}

/// A model ready to embed audio (and text, if it has a text tower).
#[derive(Debug)]
pub struct Embedder {
    name: String,
    dir: PathBuf,
    family: String,
    spec: ModelFrontEnd,
    opts: SessionOptions,
    text_variant: Variant,
    audio: Option<AudioEncoder>,
    text: Option<TextEncoder>,
    dim: Option<usize>,
}

impl Embedder {
    /// Reads the front end of the model in `dir`, naming it `name`, and checks that its audio tower exists; the
    /// tower itself loads on first use ([`Embedder::audio`]).
    pub fn open(name: &str, dir: &Path, opts: SessionOptions) -> Result<Self> {
        let (family, spec) = load_family_spec(dir)?;
        crate::model::check_model_file(&tower_path(dir, "audio", opts.variant))?;
        Ok(Embedder {
            name: name.to_string(),
            dir: dir.to_path_buf(),
            family,
            spec,
            text_variant: opts.variant,
            opts,
            audio: None,
            text: None,
            dim: None,
        })
    }

    /// The model's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The model directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The model family (`clap`, `aisfx`).
    pub fn family(&self) -> &str {
        &self.family
    }

    /// The model's front end.
    pub fn spec(&self) -> &ModelFrontEnd {
        &self.spec
    }

    /// The device the audio tower runs on (loads the tower).
    pub fn device(&mut self) -> Result<Device> {
        Ok(self.audio()?.device())
    }

    /// Whether the model directory has a text tower and tokenizer.
    pub fn has_text(&self) -> bool {
        tower_path(&self.dir, "text", self.text_variant).is_file()
            && self.dir.join("tokenizer.json").is_file()
    }

    /// The weight variant of the text tower (the session options' variant unless changed).
    pub fn text_variant(&self) -> Variant {
        self.text_variant
    }

    /// Uses `variant`'s text tower from now on when the model directory has it; returns whether it does. Text
    /// vectors are queries into the audio tower's space, so the stored vectors do not change with it.
    pub fn prefer_text_variant(&mut self, variant: Variant) -> bool {
        if !tower_path(&self.dir, "text", variant).is_file() {
            return false;
        }
        if variant != self.text_variant {
            self.text_variant = variant;
            self.text = None;
        }
        true
    }

    /// The text tower, loaded on first use.
    pub fn text(&mut self) -> Result<&mut TextEncoder> {
        if self.text.is_none() {
            if !self.has_text() {
                return Err(EmbedError::Config {
                    path: self.dir.clone(),
                    message: format!(
                        "model '{}' has no text tower, so it cannot search or tag by words; use a CLAP model \
                         (`avx model list`) for text",
                        self.name
                    ),
                });
            }
            self.text = Some(TextEncoder::open(
                &tower_path(&self.dir, "text", self.text_variant),
                &self.dir.join("tokenizer.json"),
                &self.opts,
            )?);
        }
        Ok(self.text.as_mut().expect("just loaded"))
    }

    /// Embeds a text query.
    pub fn embed_text(&mut self, text: &str) -> Result<Vec<f32>> {
        self.text()?.embed(text)
    }

    /// Whether the audio tower's session has been created.
    pub fn audio_loaded(&self) -> bool {
        self.audio.is_some()
    }

    /// The audio tower, loaded on first use.
    pub fn audio(&mut self) -> Result<&mut AudioEncoder> {
        if self.audio.is_none() {
            self.audio = Some(self.open_audio()?);
        }
        Ok(self.audio.as_mut().expect("just loaded"))
    }

    /// A new session of the audio tower.
    fn open_audio(&self) -> Result<AudioEncoder> {
        AudioEncoder::open(
            &tower_path(&self.dir, "audio", self.opts.variant),
            &self.spec.input_shape(),
            &self.opts,
        )
    }

    /// Embeds a batch of model-input windows, returning one normalised vector per window.
    pub fn embed_windows(&mut self, windows: &[&[f32]]) -> Result<Vec<Vec<f32>>> {
        if windows.is_empty() {
            return Ok(Vec::new());
        }
        let (dim, rows) = self.audio()?.embed(windows)?;
        self.dim = Some(dim);
        Ok(rows.chunks(dim).map(<[f32]>::to_vec).collect())
    }

    /// Embeds one file, window by window, `batch` windows per model call.
    ///
    /// When the audio tower is not loaded yet (a cold start, such as `avx similar NEW.wav`), its session is
    /// created on another thread while this one opens the file and computes the first batch's model input.
    pub fn embed_file(
        &mut self,
        path: &Path,
        hop_s: Option<f64>,
        batch: usize,
    ) -> Result<EmbeddedFile> {
        let hop = hop_s.unwrap_or_else(|| self.spec.default_hop_seconds());
        let (mut stream, mut first) = if self.audio.is_some() {
            (ModelInputs::open(path, &self.spec, hop)?, Vec::new())
        } else {
            let this = &*self;
            let (encoder, first) = std::thread::scope(|scope| {
                let loading = scope.spawn(|| this.open_audio());
                let first = first_windows(path, &this.spec, hop, batch.max(1));
                let encoder = loading
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                (encoder, first)
            });
            self.audio = Some(encoder?);
            first?
        };
        first.reverse(); // popped from the back, in order
        let mut times = Vec::new();
        let mut vectors = Vec::new();
        let mut pending = Vec::new();
        loop {
            let next = match first.pop() {
                Some(w) => Some(w),
                None => stream.next_window()?,
            };
            let done = next.is_none();
            if let Some(w) = next {
                times.push((w.start_s, w.end_s));
                pending.push(w.features);
            }
            if pending.len() >= batch.max(1) || (done && !pending.is_empty()) {
                let refs: Vec<&[f32]> = pending.iter().map(Vec::as_slice).collect();
                vectors.extend(self.embed_windows(&refs)?);
                pending.clear();
            }
            if done {
                break;
            }
        }
        if vectors.is_empty() {
            return Err(EmbedError::NoAudio {
                path: path.to_path_buf(),
            });
        }
        let file = EmbeddedFile {
            path: path.to_path_buf(),
            info: stream.info().clone(),
            windows: times,
            vector: pool(&vectors),
            window_vectors: vectors,
            print: None,
        };
        file.check_finite()?;
        Ok(file)
    }

    /// Embedding dimension: of the last vectors made, else `config.json`'s `projection_dim` (CLAP: both towers
    /// project to it) while the audio tower is not loaded, else by running the audio tower once on silence.
    pub fn dim(&mut self) -> Result<usize> {
        if let Some(d) = self.dim {
            return Ok(d);
        }
        if self.audio.is_none() {
            if let Some(d) = declared_dim(&self.dir) {
                return Ok(d);
            }
        }
        let n: usize = self.spec.input_shape().iter().product();
        let silence = vec![-100.0f32; n];
        let v = self.embed_windows(&[&silence])?;
        Ok(v[0].len())
    }

    /// What identifies this model's vectors when windows start every `hop_s` seconds.
    pub fn fingerprint(&mut self, hop_s: f64) -> Result<Fingerprint> {
        Ok(Fingerprint {
            model: self.name.clone(),
            audio_sha256: crate::hashes::known_sha256(&tower_path(
                &self.dir,
                "audio",
                self.opts.variant,
            ))?,
            family: self.family.clone(),
            frontend: self.spec.canonical(&self.family, hop_s),
            pipeline_version: PIPELINE_VERSION,
            dim: self.dim()?,
        })
    }
}

/// `projection_dim` of a Hugging Face/Xenova CLAP directory's `config.json`, if it has one.
fn declared_dim(dir: &Path) -> Option<usize> {
    let bytes = std::fs::read(dir.join("config.json")).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v.get("projection_dim")?
        .as_u64()
        .map(|d| d as usize)
        .filter(|d| *d > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_preferred_text_variant_is_used_only_when_its_file_exists() {
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/tiny-clap");
        let dir = tempfile::tempdir().unwrap();
        for sub in ["", "onnx"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
            for e in std::fs::read_dir(fixture.join(sub)).unwrap() {
                let p = e.unwrap().path();
                if p.is_file() {
                    std::fs::copy(&p, dir.path().join(sub).join(p.file_name().unwrap())).unwrap();
                }
            }
        }
        let mut emb = Embedder::open("tiny", dir.path(), SessionOptions::default()).unwrap();
        assert!(!emb.prefer_text_variant(Variant::Int8));
        assert_eq!(emb.text_variant(), Variant::Fp32);
        assert!(emb.text().unwrap().path().ends_with("onnx/text_model.onnx"));
        let quantized = tower_path(dir.path(), "text", Variant::Int8);
        std::fs::copy(dir.path().join("onnx/text_model.onnx"), &quantized).unwrap();
        assert!(emb.prefer_text_variant(Variant::Int8));
        assert_eq!(emb.text_variant(), Variant::Int8);
        assert_eq!(emb.text().unwrap().path(), quantized);
        assert!(!emb.embed_text("a low hum").unwrap().is_empty());
    }

    #[test]
    fn a_cold_embed_file_gives_the_warm_vectors_and_names_a_bad_file() {
        // On a cold start the audio session is created beside the first windows' decoding: same bits as a
        // session that was already there, and a file that does not decode is still its own error.
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let model = root.join("tests/fixtures/tiny-clap");
        let audio = root.join("tests/data/audio/mono16k_s16_11s.wav"); // two windows, resampled
        let open = || Embedder::open("tiny", &model, SessionOptions::default()).unwrap();
        for batch in [1, 4] {
            let mut warm = open();
            warm.audio().unwrap();
            let want = warm.embed_file(&audio, None, batch).unwrap();
            let mut cold = open();
            assert!(!cold.audio_loaded());
            let got = cold.embed_file(&audio, None, batch).unwrap();
            assert!(cold.audio_loaded());
            assert_eq!(got.windows, want.windows, "batch {batch}");
            assert_eq!(got.window_vectors, want.window_vectors, "batch {batch}");
            assert_eq!(got.vector, want.vector, "batch {batch}");
        }
        let bad = tempfile::tempdir().unwrap();
        let path = bad.path().join("not-audio.wav");
        std::fs::write(&path, b"this is not a sound file").unwrap();
        let err = open().embed_file(&path, None, 4).unwrap_err();
        assert!(
            err.to_string().contains("not-audio.wav"),
            "the error should name the file: {err}"
        );
    }
}
