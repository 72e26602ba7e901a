//! The models avx knows by name: where they come from, at which revision, and what is pinned about them.
//!
//! Only `onnx/*_quantized.onnx` of clap-htsat-unfused has published sha256 sums we could pin (see
//! `../shared/CLAP-FACTS.md`); every other file is verified against the hash recorded when it was first
//! downloaded (trust on first use, kept in `avx-manifest.json` beside the files).

use std::path::{Path, PathBuf};

use crate::model::Variant;

/// A model avx can fetch or load by name.
#[derive(Debug, Clone, Copy)]
pub struct KnownModel {
    /// The name used with `--model`.
    pub name: &'static str,
    /// The Hugging Face repository holding the ONNX export.
    pub repo: &'static str,
    /// The pinned revision (a commit), or a branch when no commit could be pinned.
    pub revision: &'static str,
    /// Whether `revision` is a commit (true) or a moving branch (false).
    pub revision_pinned: bool,
    /// Embedding dimension.
    pub dim: usize,
    /// Whether the model has a text tower (needed by `search`, `tag` and `cluster --label`).
    pub has_text: bool,
    /// Approximate download size in MB of the audio and text towers, per variant (fp32, fp16, int8).
    pub size_mb: [(u32, u32); 3],
    /// Known sha256 sums: (path in the repository, hex digest).
    pub sha256: &'static [(&'static str, &'static str)],
    /// One line for `avx model list`.
    pub summary: &'static str,
}

/// The default model.
pub const DEFAULT_MODEL: &str = "clap-htsat-unfused";

/// Every model avx knows by name.
pub const KNOWN_MODELS: &[KnownModel] = &[
    KnownModel {
        name: "clap-htsat-unfused",
        repo: "Xenova/clap-htsat-unfused",
        revision: "c28f288",
        revision_pinned: true,
        dim: 512,
        has_text: true,
        size_mb: [(118, 502), (60, 251), (34, 127)],
        sha256: &[
            (
                "onnx/audio_model_quantized.onnx",
                "3fcff2c8824e7bcb83a983f2a49edab3b60cbcf4872ac70efee517355173bd1f",
            ),
            (
                "onnx/text_model_quantized.onnx",
                "1a3df8b197e249816e08415fd040434c44762b2eea7eb7bf8a48a0f0bf3c14e5",
            ),
        ],
        summary: "LAION CLAP HTSAT (general audio), the default",
    },
    KnownModel {
        name: "larger-clap-general",
        repo: "Xenova/larger_clap_general",
        revision: "main",
        revision_pinned: false,
        dim: 512,
        has_text: true,
        size_mb: [(282, 502), (143, 251), (78, 127)],
        sha256: &[],
        summary: "LAION larger CLAP, general audio",
    },
    KnownModel {
        name: "larger-clap-music-and-speech",
        repo: "Xenova/larger_clap_music_and_speech",
        revision: "main",
        revision_pinned: false,
        dim: 512,
        has_text: true,
        size_mb: [(282, 502), (143, 251), (78, 127)],
        sha256: &[],
        summary: "LAION larger CLAP, music and speech",
    },
];

/// A model avx knows by name but cannot download: its files are made or copied locally (see `obtain`) into
/// `<root>/models/<name>/<version>/`, in the avx layout (`avx-model.json`, `onnx/audio_model.onnx`).
#[derive(Debug, Clone, Copy)]
pub struct LocalModel {
    /// The name used with `--model`.
    pub name: &'static str,
    /// The version, also the directory under `<root>/models/<name>/`.
    pub version: &'static str,
    /// Embedding dimension.
    pub dim: usize,
    /// Whether the model has a text tower.
    pub has_text: bool,
    /// Approximate size in MB (fp32; no other variant exists).
    pub size_mb: u32,
    /// sha256 of `onnx/audio_model.onnx` as the export script makes it.
    pub audio_sha256: &'static str,
    /// One line for `avx model list`.
    pub summary: &'static str,
    /// How to obtain it; `{dir}` stands for the directory avx looks in.
    pub obtain: &'static str,
    /// Where a clone of avx's repository holds the model directory.
    pub repo_dir: &'static str,
}

/// Models avx knows by name but cannot download.
pub const LOCAL_MODELS: &[LocalModel] = &[LocalModel {
    name: "aisfx",
    version: "0.1.2",
    dim: 512,
    has_text: false,
    size_mb: 19,
    audio_sha256: "6001df17c9788c7ef9629b404c999eb6cae5f3c4f8f9830eba39b7d53a5de0bc",
    summary: "aiSFX sound-effects embeddings (Ma and Lerch, ISMIR 2022; CC BY 4.0), audio only",
    obtain: "aiSFX is committed in avx's repository (models/aisfx/, CC BY 4.0): run `avx model fetch aisfx` from \
             a clone of avx (it copies models/aisfx/ to {dir}), or copy an aiSFX model directory (avx-model.json, \
             onnx/audio_model.onnx) to {dir}, or point --model-dir at one; models/aisfx/export.py re-exports it \
             from the PyPI package `aisfx` 0.1.2",
    repo_dir: "models/aisfx",
}];

/// Where the repository avx was built from keeps its committed models (`models/`), as of the build.
pub const BUILD_REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// Looks a model that cannot be downloaded up by name.
pub fn find_local(name: &str) -> Option<&'static LocalModel> {
    LOCAL_MODELS.iter().find(|m| m.name == name)
}

impl LocalModel {
    /// The files of the model directory.
    pub fn files(&self) -> [&'static str; 2] {
        ["avx-model.json", "onnx/audio_model.onnx"]
    }

    /// Where the model is kept under a cache root: `<root>/models/<name>/<version>/`.
    pub fn local_dir(&self, root: &Path) -> PathBuf {
        root.join("models").join(self.name).join(self.version)
    }

    /// Whether the model's files are under `root` (only fp32 exists).
    pub fn is_present(&self, root: &Path, variant: Variant) -> bool {
        let dir = self.local_dir(root);
        variant == Variant::Fp32 && self.files().iter().all(|f| dir.join(f).is_file())
    }

    /// The committed copy in a clone of avx: the repository avx was built from, else `models/...` under the
    /// current directory. `None` when neither has the files.
    pub fn repository_copy(&self) -> Option<PathBuf> {
        let candidates = [
            Path::new(BUILD_REPO).join(self.repo_dir),
            PathBuf::from(self.repo_dir),
        ];
        candidates
            .into_iter()
            .find(|d| self.files().iter().all(|f| d.join(f).is_file()))
    }

    /// Installs the model into `root` from the model directory `from` (a clone's `models/aisfx/`): the audio
    /// tower must have the pinned sha256; files are copied beside their destination and renamed into place.
    /// Returns the installed directory.
    pub fn install_from(&self, from: &Path, root: &Path) -> crate::Result<PathBuf> {
        let tower = from.join("onnx/audio_model.onnx");
        let sum = crate::fetch::sha256_file(&tower)?;
        if sum != self.audio_sha256 {
            return Err(crate::EmbedError::Config {
                path: tower,
                message: format!(
                    "sha256 {sum} is not the {} {} export ({}): restore the file from git (git lfs pull, or \
                     git checkout -- {})",
                    self.name, self.version, self.audio_sha256, self.repo_dir
                ),
            });
        }
        let dir = self.local_dir(root);
        for f in self.files() {
            let dest = dir.join(f);
            let parent = dest.parent().expect("files are under the directory");
            std::fs::create_dir_all(parent).map_err(|e| crate::EmbedError::io(parent, e))?;
            let part = dest.with_extension("part");
            std::fs::copy(from.join(f), &part).map_err(|e| crate::EmbedError::io(&part, e))?;
            std::fs::rename(&part, &dest).map_err(|e| crate::EmbedError::io(&dest, e))?;
        }
        crate::hashes::remember(&dir.join("onnx/audio_model.onnx"), &sum);
        Ok(dir)
    }

    /// How to obtain the model into `root`.
    pub fn how_to_obtain(&self, root: &Path) -> String {
        self.obtain
            .replace("{dir}", &self.local_dir(root).to_string_lossy())
    }
}

/// Looks a model up by name.
pub fn find(name: &str) -> Option<&'static KnownModel> {
    KNOWN_MODELS.iter().find(|m| m.name == name)
}

impl KnownModel {
    /// The repository files a variant needs, in download order (small files first).
    pub fn files(&self, variant: Variant) -> Vec<String> {
        let mut files = vec![
            "config.json".to_string(),
            "preprocessor_config.json".to_string(),
        ];
        if self.has_text {
            files.push("tokenizer.json".to_string());
        }
        files.push(format!("onnx/audio_model{}.onnx", variant.file_suffix()));
        if self.has_text {
            files.push(format!("onnx/text_model{}.onnx", variant.file_suffix()));
        }
        files
    }

    /// Files fetched beside `variant`'s: the text tower text queries use by default
    /// ([`QUERY_TEXT_VARIANT`](crate::model::QUERY_TEXT_VARIANT)) when it is another file. Every model in
    /// [`KNOWN_MODELS`] publishes it (the Xenova exports have every variant). Not needed to load the model.
    pub fn query_files(&self, variant: Variant) -> Vec<String> {
        let query = crate::model::QUERY_TEXT_VARIANT;
        if !self.has_text || variant == query {
            return Vec::new();
        }
        vec![format!("onnx/text_model{}.onnx", query.file_suffix())]
    }

    /// The pinned sha256 of a repository file, if one is known.
    pub fn pinned_sha256(&self, file: &str) -> Option<&'static str> {
        self.sha256
            .iter()
            .find(|(f, _)| *f == file)
            .map(|(_, h)| *h)
    }

    /// Where the model is kept under a cache root: `<root>/models/<name>/<revision>/`.
    pub fn local_dir(&self, root: &Path) -> PathBuf {
        root.join("models").join(self.name).join(self.revision)
    }

    /// Whether every file of `variant` is present under `root`.
    pub fn is_present(&self, root: &Path, variant: Variant) -> bool {
        let dir = self.local_dir(root);
        self.files(variant).iter().all(|f| dir.join(f).is_file())
    }

    /// Approximate total download size in MB of a variant, with its [`query_files`](Self::query_files).
    pub fn approx_size_mb(&self, variant: Variant) -> u32 {
        let sizes = |v: Variant| {
            self.size_mb[match v {
                Variant::Fp32 => 0,
                Variant::Fp16 => 1,
                Variant::Int8 => 2,
            }]
        };
        let (a, t) = sizes(variant);
        let query = if self.query_files(variant).is_empty() {
            0
        } else {
            sizes(crate::model::QUERY_TEXT_VARIANT).1
        };
        a + if self.has_text { t } else { 0 } + query
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_model_is_known_and_pinned() {
        let m = find(DEFAULT_MODEL).unwrap();
        assert!(m.revision_pinned);
        assert_eq!(m.dim, 512);
        assert!(m.pinned_sha256("onnx/audio_model_quantized.onnx").is_some());
        assert!(m.pinned_sha256("onnx/audio_model.onnx").is_none());
    }

    #[test]
    fn variant_files_follow_layout() {
        let m = find("larger-clap-general").unwrap();
        let files = m.files(Variant::Int8);
        assert!(files.contains(&"onnx/audio_model_quantized.onnx".to_string()));
        assert!(files.contains(&"onnx/text_model_quantized.onnx".to_string()));
        assert!(files.contains(&"tokenizer.json".to_string()));
    }

    #[test]
    fn aisfx_is_known_locally_not_downloadable() {
        let m = find_local("aisfx").unwrap();
        assert!(find("aisfx").is_none());
        assert!(!m.has_text);
        let root = Path::new("/r");
        assert_eq!(m.local_dir(root), Path::new("/r/models/aisfx/0.1.2"));
        assert!(m.how_to_obtain(root).contains("avx model fetch aisfx"));
        assert!(!m.is_present(root, Variant::Fp32));
    }

    #[test]
    fn aisfx_installs_from_the_repository_copy_with_its_pinned_hash() {
        let m = find_local("aisfx").unwrap();
        let from = m.repository_copy().expect(
            "models/aisfx (avx-model.json, onnx/audio_model.onnx) is committed: restore it with git checkout -- models",
        );
        let root = tempfile::tempdir().unwrap();
        let dir = m.install_from(&from, root.path()).unwrap();
        assert!(m.is_present(root.path(), Variant::Fp32));
        assert_eq!(
            crate::fetch::sha256_file(&dir.join("onnx/audio_model.onnx")).unwrap(),
            m.audio_sha256
        );
        // A damaged copy is refused and installs nothing.
        let bad = tempfile::tempdir().unwrap();
        for f in m.files() {
            std::fs::create_dir_all(bad.path().join(f).parent().unwrap()).unwrap();
            std::fs::write(bad.path().join(f), b"{}").unwrap();
        }
        let other = tempfile::tempdir().unwrap();
        let e = m
            .install_from(bad.path(), other.path())
            .unwrap_err()
            .to_string();
        assert!(e.contains("sha256"), "{e}");
        assert!(!m.is_present(other.path(), Variant::Fp32));
    }

    #[test]
    fn music_only_checkpoint_is_not_offered() {
        // laion/larger_clap_music has a collapsed text tower: useless for search, so it is not listed.
        assert!(find("larger-clap-music").is_none());
    }
}
