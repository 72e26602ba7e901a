//! Execution devices: registering ONNX Runtime execution providers on a session.
//!
//! An explicitly requested device that is not available is an error, never a silent fall-back to the CPU.
//! `auto` tries CUDA, then CoreML, then the CPU, and reports what it chose.

use std::path::Path;

use ort::session::builder::SessionBuilder;

use crate::model::Device;
use crate::{EmbedError, Result};

#[allow(dead_code)] // unused when no GPU feature is compiled in
fn unavailable(device: Device, why: String) -> EmbedError {
    EmbedError::Runtime {
        message: format!("device '{}' is not available: {why}", device.name()),
    }
}

#[cfg(feature = "cuda")]
fn cuda(builder: SessionBuilder, path: &Path) -> Result<SessionBuilder> {
    use ort::ep::ExecutionProvider;
    if !ort::ep::CUDA::is_available().unwrap_or(false) {
        return Err(unavailable(
            Device::Cuda,
            "the loaded ONNX Runtime has no CUDA provider: run `scripts/setup-ort.sh --gpu`".into(),
        ));
    }
    builder
        .with_execution_providers([ort::ep::CUDA::default().build().error_on_failure()])
        .map_err(|e| EmbedError::Model {
            path: path.to_path_buf(),
            message: format!("cannot start CUDA: {e}"),
        })
}

#[cfg(not(feature = "cuda"))]
fn cuda(_: SessionBuilder, _: &Path) -> Result<SessionBuilder> {
    Err(unavailable(
        Device::Cuda,
        "this avx was built without CUDA support: rebuild with `cargo build --release --features cuda`".into(),
    ))
}

#[cfg(feature = "coreml")]
fn coreml(builder: SessionBuilder, path: &Path) -> Result<SessionBuilder> {
    use ort::ep::ExecutionProvider;
    if !ort::ep::CoreML::is_available().unwrap_or(false) {
        return Err(unavailable(
            Device::CoreMl,
            "the loaded ONNX Runtime has no CoreML provider (it ships in the macOS wheel only)"
                .into(),
        ));
    }
    builder
        .with_execution_providers([ort::ep::CoreML::default().build().error_on_failure()])
        .map_err(|e| EmbedError::Model {
            path: path.to_path_buf(),
            message: format!("cannot start CoreML: {e}"),
        })
}

#[cfg(not(feature = "coreml"))]
fn coreml(_: SessionBuilder, _: &Path) -> Result<SessionBuilder> {
    Err(unavailable(
        Device::CoreMl,
        "this avx was built without CoreML support: rebuild with `cargo build --release --features coreml`".into(),
    ))
}

/// Registers the provider for `device` and returns the builder with the device actually used.
pub(crate) fn register(
    builder: SessionBuilder,
    device: Device,
    path: &Path,
) -> Result<(SessionBuilder, Device)> {
    match device {
        Device::Cpu => Ok((builder, Device::Cpu)),
        Device::Cuda => cuda(builder, path).map(|b| (b, Device::Cuda)),
        Device::CoreMl => coreml(builder, path).map(|b| (b, Device::CoreMl)),
        Device::Auto => {
            if cfg!(feature = "cuda") {
                if let Ok(b) = cuda(builder.clone(), path) {
                    return Ok((b, Device::Cuda));
                }
            }
            if cfg!(feature = "coreml") {
                if let Ok(b) = coreml(builder.clone(), path) {
                    return Ok((b, Device::CoreMl));
                }
            }
            Ok((builder, Device::Cpu))
        }
    }
}
