//! [`AppState`]: what every request shares: the index snapshot (reopened when a concurrent `avx index` commits),
//! the model (one at a time), the loudness cache and the cached map.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use avx_core::audio::LoudnessCache;
use avx_embed::Embedder;
use avx_index::{Index, OpenOptions};

use crate::{ServeConfig, ServeError};

/// What identifies a commit on disk: `meta.redb`'s size and modification time (every commit rewrites it).
type Stamp = Option<(u64, SystemTime)>;

fn stamp(dir: &Path) -> Stamp {
    let m = std::fs::metadata(dir.join("meta.redb")).ok()?;
    Some((m.len(), m.modified().ok()?))
}

/// One open snapshot of the index.
#[derive(Debug)]
pub struct Snapshot {
    pub index: Index,
    stamp: Stamp,
}

/// State shared by all requests.
#[derive(Debug)]
pub struct AppState {
    dir: PathBuf,
    snapshot: RwLock<Arc<Snapshot>>,
    reopen: Mutex<()>,
    model: Mutex<Embedder>,
    model_name: String,
    has_text: bool,
    pub(crate) loudness: Mutex<LoudnessCache>,
    /// (commits, JSON) of the last map served.
    pub(crate) map: Mutex<Option<(u64, Arc<String>)>>,
    pub(crate) upload_limit: usize,
    /// Seconds between the windows of an uploaded reference (the index's hop).
    pub(crate) hop_s: Option<f64>,
    /// The weight variant of the text tower text queries use (`fp32`, `fp16`, `int8`).
    pub(crate) text_variant: &'static str,
    /// [`ServeConfig::motifs`].
    pub(crate) motifs: Option<PathBuf>,
}

impl AppState {
    pub fn open(dir: &Path, model: Embedder, cfg: &ServeConfig) -> Result<AppState, ServeError> {
        let s = stamp(dir);
        let index = Index::open(dir, OpenOptions::default()).map_err(avx_core::CoreError::from)?;
        if index.settings().model != model.name() {
            return Err(ServeError::Core(avx_core::CoreError::Invalid(format!(
                "the index {} holds vectors of model '{}', not '{}'",
                dir.display(),
                index.settings().model,
                model.name()
            ))));
        }
        if let Some(saved) = &cfg.motifs {
            // Refuse a file that is not a saved `recurring` run now, not on the first timeline request.
            avx_core::recurring::saved_occurrences(saved, dir).map_err(ServeError::Core)?;
        }
        Ok(AppState {
            dir: dir.to_path_buf(),
            snapshot: RwLock::new(Arc::new(Snapshot { index, stamp: s })),
            reopen: Mutex::new(()),
            model_name: model.name().to_string(),
            has_text: model.has_text(),
            text_variant: model.text_variant().name(),
            model: Mutex::new(model),
            loudness: Mutex::new(LoudnessCache::open(dir)),
            map: Mutex::new(None),
            upload_limit: cfg.upload_limit,
            hop_s: cfg.hop_s,
            motifs: cfg.motifs.clone(),
        })
    }

    /// The current snapshot: reopened first when the index was committed since it was opened. A failed reopen
    /// (a commit in progress, say) keeps serving the previous snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        let current = self.snapshot.read().map(|s| s.clone());
        let current = match current {
            Ok(s) => s,
            Err(p) => p.into_inner().clone(),
        };
        let now = stamp(&self.dir);
        if now == current.stamp {
            return current;
        }
        let _guard = self.reopen.lock().unwrap_or_else(|p| p.into_inner());
        // Another request may have reopened it while this one waited.
        if let Ok(s) = self.snapshot.read() {
            if s.stamp == now {
                return s.clone();
            }
        }
        match Index::open(&self.dir, OpenOptions::default()) {
            Ok(index) => {
                let fresh = Arc::new(Snapshot { index, stamp: now });
                if let Ok(mut s) = self.snapshot.write() {
                    *s = fresh.clone();
                }
                fresh
            }
            Err(_) => current,
        }
    }

    /// Runs `f` with the model (requests that need it take turns).
    pub fn with_model<T>(&self, f: impl FnOnce(&mut Embedder) -> T) -> T {
        let mut m = self.model.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut m)
    }

    pub fn model_name(&self) -> &str {
        &self.model_name
    }

    pub fn has_text(&self) -> bool {
        self.has_text
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}
