//! Finding and loading the ONNX Runtime shared library.
//!
//! avx links ONNX Runtime dynamically (`ort`'s `load-dynamic`), so the library is looked up at run time, in this
//! order:
//!
//! 1. `ORT_DYLIB_PATH`, if set (a path to the library file);
//! 2. the directory the set-up step (`scripts/setup-ort.sh`) installs into: [`runtime_dir`];
//! 3. the system's library search path (`libonnxruntime.so`, `libonnxruntime.dylib`, `onnxruntime.dll`).
//!
//! A missing or too old library is an [`EmbedError::Runtime`] whose message names the command that fixes it.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::{EmbedError, Result};

/// The ONNX Runtime version the set-up step installs and avx is tested with.
pub const ORT_VERSION: &str = "1.31.1";

/// The oldest ONNX Runtime minor version (1.x) that the `ort` crate accepts.
pub const MIN_ORT_MINOR: u32 = ort::MINOR_VERSION;

/// The command that installs the library where avx looks for it.
pub const SETUP_HINT: &str =
    "run `scripts/setup-ort.sh` (or set ORT_DYLIB_PATH to a libonnxruntime 1.31)";

/// Where a loaded library came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LibrarySource {
    /// The `ORT_DYLIB_PATH` environment variable.
    EnvVar,
    /// The set-up step's directory.
    SetupDir,
    /// The system library path.
    System,
}

/// The library that was loaded.
#[derive(Debug, Clone)]
pub struct RuntimeInfo {
    /// The path handed to the loader.
    pub path: PathBuf,
    /// Where that path came from.
    pub source: LibrarySource,
}

/// The platform's file name for the library.
pub fn library_file_name() -> String {
    format!(
        "{}onnxruntime{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    )
}

/// avx's per-user data directory: `$AVX_HOME`, else `$XDG_DATA_HOME/avx`, else `~/.local/share/avx`.
pub fn data_dir() -> PathBuf {
    if let Some(home) = non_empty_env("AVX_HOME") {
        return PathBuf::from(home);
    }
    if let Some(xdg) = non_empty_env("XDG_DATA_HOME") {
        return PathBuf::from(xdg).join("avx");
    }
    home_dir().join(".local").join("share").join("avx")
}

/// avx's per-user cache directory (models): `$AVX_HOME`, else `$XDG_CACHE_HOME/avx`, else `~/.cache/avx`.
pub fn cache_dir() -> PathBuf {
    if let Some(home) = non_empty_env("AVX_HOME") {
        return PathBuf::from(home);
    }
    if let Some(xdg) = non_empty_env("XDG_CACHE_HOME") {
        return PathBuf::from(xdg).join("avx");
    }
    home_dir().join(".cache").join("avx")
}

/// The directory `scripts/setup-ort.sh` installs the library into.
pub fn runtime_dir() -> PathBuf {
    data_dir().join("onnxruntime").join(ORT_VERSION)
}

fn home_dir() -> PathBuf {
    non_empty_env("HOME")
        .or_else(|| non_empty_env("USERPROFILE"))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn non_empty_env(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.is_empty())
}

/// The candidate library paths in search order. Candidates that do not exist on disk are skipped, except the
/// bare system name, which the dynamic loader resolves itself.
pub fn candidates() -> Vec<(LibrarySource, PathBuf)> {
    let mut out = Vec::new();
    if let Some(p) = non_empty_env("ORT_DYLIB_PATH") {
        out.push((LibrarySource::EnvVar, PathBuf::from(p)));
    }
    let setup = runtime_dir().join(library_file_name());
    if setup.exists() {
        out.push((LibrarySource::SetupDir, setup));
    }
    out.push((LibrarySource::System, PathBuf::from(library_file_name())));
    out
}

type Loaded = std::result::Result<(RuntimeInfo, ort::environment::Environment), String>;

static INIT: OnceLock<Loaded> = OnceLock::new();

/// Loads ONNX Runtime once per process and creates its environment. Later calls return the first outcome.
pub fn init() -> Result<RuntimeInfo> {
    loaded().map(|(info, _)| info.clone())
}

fn loaded() -> Result<&'static (RuntimeInfo, ort::environment::Environment)> {
    INIT.get_or_init(init_uncached)
        .as_ref()
        .map_err(|message| EmbedError::Runtime {
            message: message.clone(),
        })
}

fn init_uncached() -> Loaded {
    let mut tried = Vec::new();
    for (source, path) in candidates() {
        if source == LibrarySource::EnvVar && !path.exists() {
            return Err(format!(
                "ORT_DYLIB_PATH points to {}, which does not exist: fix the variable or unset it and {SETUP_HINT}",
                path.display()
            ));
        }
        match load(&path) {
            Ok(env) => return Ok((RuntimeInfo { path, source }, env)),
            Err(LoadFailure::Missing(e)) if source == LibrarySource::System => {
                tried.push(format!("{} ({e})", path.display()));
            }
            Err(LoadFailure::Missing(e)) | Err(LoadFailure::Unusable(e)) => {
                return Err(format!(
                    "cannot use ONNX Runtime at {}: {e}; {SETUP_HINT}",
                    path.display()
                ));
            }
        }
    }
    Err(format!(
        "ONNX Runtime library not found (looked for ORT_DYLIB_PATH, {}, then the system path); {SETUP_HINT}",
        runtime_dir().join(library_file_name()).display()
    ))
}

enum LoadFailure {
    /// The file could not be opened by the dynamic loader.
    Missing(String),
    /// It opened but is not a usable ONNX Runtime.
    Unusable(String),
}

fn load(path: &Path) -> std::result::Result<ort::environment::Environment, LoadFailure> {
    let builder = ort::init_from(path).map_err(|e| match e {
        ort::LoadDynamicError::Dlopen { error, .. } => LoadFailure::Missing(one_line(&error.to_string())),
        ort::LoadDynamicError::BadVersion { version_str, .. } => LoadFailure::Unusable(format!(
            "version {version_str} is too old, avx needs ONNX Runtime 1.{MIN_ORT_MINOR} or newer (tested with {ORT_VERSION})"
        )),
        other => LoadFailure::Unusable(one_line(&other.to_string())),
    })?;
    builder
        .with_name("avx")
        .with_telemetry(false)
        .build()
        .map_err(|e| LoadFailure::Unusable(one_line(&e.to_string())))
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The ONNX Runtime environment, loading the library first if needed.
pub(crate) fn environment() -> Result<&'static ort::environment::Environment> {
    loaded().map(|(_, env)| env)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_name_is_platform_specific() {
        let name = library_file_name();
        assert!(name.contains("onnxruntime"));
        if cfg!(target_os = "linux") {
            assert_eq!(name, "libonnxruntime.so");
        }
    }

    #[test]
    fn runtime_dir_is_versioned_under_data_dir() {
        let dir = runtime_dir();
        assert!(dir.starts_with(data_dir()));
        assert!(dir.ends_with(Path::new("onnxruntime").join(ORT_VERSION)));
    }
}
