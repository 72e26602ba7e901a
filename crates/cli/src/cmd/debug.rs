//! `avx debug mel FILE --out PATH.npy`: the exact model input of a file, for external checks.
//!
//! Writes float32 `[windows, frames, mels]` (CLAP `[windows, 1001, 64]`, aiSFX `[blocks, 100, 96]`) (NumPy `.npy`, little-endian, C order) and prints one line per
//! window: `index<TAB>start_s<TAB>end_s`. Stable: external parity checks rely on it.

use std::io::BufWriter;

use anyhow::{Context as _, Result};
use avx_embed::{FrontEndSpec, ModelFrontEnd, ModelInputs};

use crate::cli::DebugCommand;
use crate::context::Ctx;
use crate::output::Out;
use crate::Outcome;

pub fn run(ctx: &Ctx, cmd: DebugCommand) -> Result<Outcome> {
    match cmd {
        DebugCommand::Mel { file, out, hop } => {
            // The front end comes from the chosen model when one is available; the default CLAP front end
            // otherwise, so the command works without any model.
            let spec = match ctx.model_choice(None) {
                Ok(choice) => avx_embed::embedder::load_spec(&choice.dir)?,
                Err(_) if ctx.global.model_dir.is_none() && ctx.global.model.is_none() => {
                    ModelFrontEnd::from(FrontEndSpec::clap_htsat_unfused())
                }
                Err(e) => return Err(e),
            };
            let hop = hop.unwrap_or_else(|| spec.default_hop_seconds());
            let mut stream = ModelInputs::open(&file, &spec, hop)?;
            let mut data = Vec::new();
            let mut times = Vec::new();
            while let Some(w) = stream.next_window()? {
                times.push((w.start_s, w.end_s));
                data.extend_from_slice(&w.features);
            }
            let shape = spec.input_shape();
            let (frames, mels) = (shape[shape.len() - 2], shape[shape.len() - 1]);
            let w = BufWriter::new(
                std::fs::File::create(&out)
                    .with_context(|| format!("cannot write {}", out.display()))?,
            );
            avx_embed::npy::write_npy_f32(w, &[times.len(), frames, mels], &data)
                .with_context(|| format!("cannot write {}", out.display()))?;
            let mut o = Out::new();
            for (i, (s, e)) in times.iter().enumerate() {
                if ctx.global.json {
                    o.json(
                        &serde_json::json!({"type": "window", "index": i, "start": s, "end": e}),
                    )?;
                } else {
                    o.line(format!("{i}\t{s:.6}\t{e:.6}"))?;
                }
            }
            o.flush()?;
            Ok(Outcome::Found)
        }
    }
}
