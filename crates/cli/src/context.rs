//! What every command needs: resolved global options, the model, the index.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use avx_embed::model::{Device, LoadTuning, SessionOptions, Variant, QUERY_TEXT_VARIANT};
use avx_embed::{registry, runtime, Embedder};
use avx_index::{Index, IndexSettings, OpenOptions};

use crate::cli::Global;

/// A model to load: its name and directory.
#[derive(Debug, Clone)]
pub struct ModelChoice {
    pub name: String,
    pub dir: PathBuf,
}

/// Resolved global options.
#[derive(Debug)]
pub struct Ctx {
    pub global: Global,
    pub variant: Variant,
    pub device: Device,
    pub threads: usize,
}

impl Ctx {
    pub fn new(global: Global) -> Result<Ctx> {
        let variant: Variant = match &global.variant {
            Some(v) => v.parse().map_err(anyhow::Error::msg)?,
            None => Variant::Fp32,
        };
        let device: Device = global.device.parse().map_err(anyhow::Error::msg)?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads = match global.threads {
            Some(0) => bail!("--threads must be at least 1"),
            Some(n) => n,
            None => cores,
        };
        Ok(Ctx {
            global,
            variant,
            device,
            threads,
        })
    }

    /// Whether progress bars and summaries go to stderr.
    pub fn chatty(&self) -> bool {
        !self.global.quiet
    }

    /// Whether stderr is a terminal (progress bars are drawn only then).
    pub fn progress_visible(&self) -> bool {
        self.chatty() && std::io::stderr().is_terminal()
    }

    pub fn session_options(&self) -> SessionOptions {
        SessionOptions {
            variant: self.variant,
            device: self.device,
            threads: self.threads,
            optimization: 3,
            // ONNX Runtime's intra-op threads otherwise spin between operators and take the cores that decoder
            // threads (and anything else on the machine) want: benches/pipeline.rs measures both.
            spinning: false,
            // The optimised graphs are saved once beside the models' other cached data: a later cold start
            // (`avx similar NEW.wav`, `avx search`) skips ONNX Runtime's graph optimisation (docs/performance.md).
            optimized_cache: Some(runtime::cache_dir().join("optimized")),
            // Saved in ONNX Runtime's own format and mapped, its weights used in place: a cold `avx search` creates
            // its session in about half the CPU time, `avx similar` in less (benches/cold_start.rs; README).
            load: LoadTuning {
                ort_format: true,
                ..LoadTuning::default()
            },
        }
    }

    /// The index directory: `--index`, `AVX_INDEX`, else `<data dir>/index`.
    pub fn index_dir(&self) -> PathBuf {
        self.global
            .index
            .clone()
            .unwrap_or_else(|| runtime::data_dir().join("index"))
    }

    /// Which model to use. `stored` is the model name recorded in an existing index, used when the user named
    /// none.
    pub fn model_choice(&self, stored: Option<&str>) -> Result<ModelChoice> {
        if let Some(dir) = &self.global.model_dir {
            if !dir.is_dir() {
                bail!(
                    "model directory {} does not exist (from --model-dir or AVX_MODEL_DIR)",
                    dir.display()
                );
            }
            let name = self
                .global
                .model
                .clone()
                .or_else(|| stored.map(str::to_string))
                .unwrap_or_else(|| local_model_name(dir));
            return Ok(ModelChoice {
                name,
                dir: dir.clone(),
            });
        }
        let name = self
            .global
            .model
            .clone()
            .or_else(|| stored.map(str::to_string))
            .unwrap_or_else(|| registry::DEFAULT_MODEL.to_string());
        if let Some(local) = registry::find_local(&name) {
            let root = runtime::cache_dir();
            if !local.is_present(&root, self.variant) {
                if self.variant != Variant::Fp32 {
                    bail!(
                        "model '{name}' exists only in fp32: drop --variant {}",
                        self.variant.name()
                    );
                }
                bail!(
                    "model '{name}' is not installed. {}",
                    local.how_to_obtain(&root)
                );
            }
            return Ok(ModelChoice {
                name,
                dir: local.local_dir(&root),
            });
        }
        let Some(known) = registry::find(&name) else {
            bail!(
                "unknown model '{name}': see `avx model list`, or use --model-dir PATH for a local model directory"
            );
        };
        let root = runtime::cache_dir();
        if !known.is_present(&root, self.variant) {
            bail!(
                "model '{name}' ({}) is not downloaded: run `avx model fetch {name}{}`, or use --model-dir PATH \
                 (or AVX_MODEL_DIR) with a local copy in the Hugging Face/Xenova layout",
                self.variant.name(),
                if self.variant == Variant::Fp32 {
                    String::new()
                } else {
                    format!(" --variant {}", self.variant.name())
                }
            );
        }
        Ok(ModelChoice {
            name,
            dir: known.local_dir(&root),
        })
    }

    /// Opens the model (each tower loads on first use; `--device auto` loads the audio tower to say which device
    /// it got).
    pub fn embedder(&self, stored: Option<&str>) -> Result<Embedder> {
        let choice = self.model_choice(stored)?;
        let mut emb = Embedder::open(&choice.name, &choice.dir, self.session_options())
            .with_context(|| format!("cannot load model '{}'", choice.name))?;
        if self.device == Device::Auto && self.chatty() {
            let device = emb
                .device()
                .with_context(|| format!("cannot load model '{}'", choice.name))?;
            eprintln!("avx: device auto: using {}", device.name());
        }
        Ok(emb)
    }

    /// Text queries use the [`QUERY_TEXT_VARIANT`] text tower when the model has it and `--variant` is not
    /// given (`--variant` sets both towers). Query vectors only search the audio vectors, so the index's model
    /// check (the audio tower) is unaffected.
    pub fn prefer_query_text_variant(&self, emb: &mut Embedder) {
        if self.global.variant.is_none() {
            emb.prefer_text_variant(QUERY_TEXT_VARIANT);
        }
    }

    /// The settings an index built with this model, windows every `hop_s` seconds, must have.
    pub fn settings_for(&self, emb: &mut Embedder, hop_s: f64) -> Result<IndexSettings> {
        let fp = emb.fingerprint(hop_s)?;
        Ok(IndexSettings {
            model: fp.model,
            model_hashes: vec![("audio_model".to_string(), fp.audio_sha256)],
            family: fp.family,
            frontend: fp.frontend,
            pipeline_version: fp.pipeline_version,
            dim: fp.dim as u32,
        })
    }

    /// Opens the index for reading; a missing index is an error that says how to make one.
    pub fn open_index(&self) -> Result<Index> {
        let dir = self.index_dir();
        if !dir.join("meta.redb").exists() {
            bail!(
                "no index at {}: run `avx index PATH...` first (or point --index / AVX_INDEX at one)",
                dir.display()
            );
        }
        Index::open(&dir, OpenOptions::default())
            .with_context(|| format!("cannot open index {}", dir.display()))
    }

    /// Loads the model an index was built with (the index's recorded model unless --model or --model-dir names
    /// one) and checks that its vectors live in the index's vector space: same model files, family, front end
    /// and pipeline. Returns it with the hop the index's windows use.
    pub fn embedder_for_index(&self, index: &Index) -> Result<(Embedder, f64)> {
        self.embedder_for_space(
            index.settings(),
            &format!("the index {}", index.dir().display()),
        )
    }

    /// [`Ctx::embedder_for_index`] for any store of vectors made with `stored` settings (an index, a database
    /// table); `holder` names the store in errors ("the index /x", "table avx_files").
    pub fn embedder_for_space(
        &self,
        stored: &IndexSettings,
        holder: &str,
    ) -> Result<(Embedder, f64)> {
        let mut emb = self.embedder(Some(&stored.model))?;
        let hop = avx_embed::family::frontend_text_hop(&stored.frontend)
            .unwrap_or_else(|| emb.spec().default_hop_seconds());
        let candidate = self.settings_for(&mut emb, hop)?;
        if let Some((found, expected)) = stored.difference(&candidate) {
            bail!(
                "{holder} was built with {found}, this model has {expected}; {holder} holds vectors of model \
                 '{}' ({}); the model chosen, '{}' in {}, makes other vectors, and comparing the two would be \
                 meaningless: drop --model/--model-dir (and AVX_MODEL, AVX_MODEL_DIR) to use its model",
                stored.model,
                describe_space(&stored.family, &stored.frontend),
                emb.name(),
                emb.dir().display(),
            );
        }
        Ok((emb, hop))
    }
}

/// A model family and front end for a person: `aisfx, blocks at 44100 Hz`.
pub fn describe_space(family: &str, frontend: &str) -> String {
    use avx_embed::family::{family_of, frontend_text_hop, frontend_text_value};
    let family = family_of(family, frontend);
    match (
        frontend_text_value(frontend, "kind"),
        frontend_text_value(frontend, "sample_rate"),
    ) {
        (Some(kind), Some(rate)) => {
            let hop = frontend_text_hop(frontend).unwrap_or(f64::NAN);
            format!("family {family}, {kind} at {rate} Hz, hop {hop} s")
        }
        _ => format!("family {family}"),
    }
}

fn local_model_name(dir: &Path) -> String {
    let canon = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let base = canon
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".to_string());
    format!("local:{base}")
}

/// Absolute, canonical form of a user-given path (as stored in the index). A stream that has no canonical path
/// (a shell's `<(ffmpeg ...)` is `/dev/fd/63`, a link to `pipe:[...]`) keeps its own, made absolute.
pub fn absolute(path: &Path) -> Result<PathBuf> {
    path.canonicalize()
        .or_else(|e| match std::fs::metadata(path) {
            Ok(m) if !m.is_file() && !m.is_dir() => std::path::absolute(path),
            _ => Err(e),
        })
        .with_context(|| format!("{}: cannot open", path.display()))
}
