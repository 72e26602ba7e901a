//! `avx model list|fetch|path|verify`.

use anyhow::{Context as _, Result};
use avx_embed::{fetch, registry, runtime};
use serde_json::json;

use crate::cli::ModelCommand;
use crate::context::Ctx;
use crate::output::Out;
use crate::Outcome;

pub fn run(ctx: &Ctx, cmd: ModelCommand) -> Result<Outcome> {
    let root = runtime::cache_dir();
    let mut out = Out::new();
    match cmd {
        ModelCommand::List => {
            if !ctx.global.json {
                out.line(format!(
                    "{:<30} {:>4}  {:>8}  {:<7}  {:<5}  about",
                    "name", "dim", "size", "present", "text"
                ))?;
            }
            for m in registry::KNOWN_MODELS {
                let present = m.is_present(&root, ctx.variant);
                if ctx.global.json {
                    out.json(&json!({
                        "type": "model", "name": m.name, "repo": m.repo, "revision": m.revision,
                        "revision_pinned": m.revision_pinned, "dim": m.dim, "text": m.has_text,
                        "variant": ctx.variant.name(), "size_mb": m.approx_size_mb(ctx.variant),
                        "present": present, "dir": avx_core::path_json(&m.local_dir(&root)),
                    }))?;
                } else {
                    out.line(format!(
                        "{:<30} {:>4}  {:>5} MB  {:<7}  {:<5}  {}",
                        m.name,
                        m.dim,
                        m.approx_size_mb(ctx.variant),
                        if present { "yes" } else { "no" },
                        if m.has_text { "yes" } else { "no" },
                        m.summary
                    ))?;
                }
            }
            for m in registry::LOCAL_MODELS {
                let present = m.is_present(&root, ctx.variant);
                if ctx.global.json {
                    out.json(&json!({
                        "type": "model", "name": m.name, "repo": null, "revision": m.version,
                        "revision_pinned": true, "dim": m.dim, "text": m.has_text,
                        "variant": "fp32", "size_mb": m.size_mb, "present": present,
                        "dir": avx_core::path_json(&m.local_dir(&root)), "downloadable": false,
                    }))?;
                } else {
                    out.line(format!(
                        "{:<30} {:>4}  {:>5} MB  {:<7}  {:<5}  {} (not downloadable: see `avx model fetch {}`)",
                        m.name,
                        m.dim,
                        m.size_mb,
                        if present { "yes" } else { "no" },
                        if m.has_text { "yes" } else { "no" },
                        m.summary,
                        m.name
                    ))?;
                }
            }
            if !ctx.global.json {
                out.line(format!(
                    "sizes are for --variant {}; models are kept in {}",
                    ctx.variant.name(),
                    root.join("models").display()
                ))?;
            }
        }
        ModelCommand::Fetch { name } => {
            let name = name
                .or_else(|| ctx.global.model.clone())
                .unwrap_or_else(|| registry::DEFAULT_MODEL.to_string());
            if let Some(local) = registry::find_local(&name) {
                let dir = if local.is_present(&root, avx_embed::model::Variant::Fp32) {
                    local.local_dir(&root)
                } else {
                    let Some(from) = local.repository_copy() else {
                        anyhow::bail!("{}", local.how_to_obtain(&root));
                    };
                    local.install_from(&from, &root).with_context(|| {
                        format!("cannot install model '{name}' from {}", from.display())
                    })?
                };
                if ctx.global.json {
                    out.json(&json!({"type": "model_fetched", "name": name, "dir": avx_core::path_json(&dir)}))?;
                } else {
                    out.bytes_line(&avx_core::path_bytes(&dir))?;
                }
                out.flush()?;
                return Ok(Outcome::Found);
            }
            let Some(m) = registry::find(&name) else {
                anyhow::bail!("unknown model '{name}': see `avx model list`");
            };
            // One progress bar per file (bytes, rate, ETA), drawn only when stderr is a terminal.
            let show = ctx.progress_visible();
            let mut last_file = String::new();
            let mut bar: Option<indicatif::ProgressBar> = None;
            let mut report = |p: fetch::Progress<'_>| {
                if !show {
                    return;
                }
                if p.file != last_file {
                    if let Some(b) = bar.take() {
                        b.finish();
                    }
                    let b = indicatif::ProgressBar::new(p.total.unwrap_or(0));
                    b.set_style(
                        indicatif::ProgressStyle::with_template(
                            "{msg} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
                        )
                        .expect("valid template"),
                    );
                    b.set_message(p.file.to_string());
                    bar = Some(b);
                    last_file = p.file.to_string();
                }
                if let Some(b) = &bar {
                    if let Some(t) = p.total {
                        b.set_length(t);
                    }
                    b.set_position(p.done);
                }
            };
            let dir = fetch::fetch_model(m, ctx.variant, &root, &mut report).with_context(|| {
                format!(
                    "cannot fetch model '{name}' from {}; without network access, download the files of {} \
                     (revision {}) elsewhere and use --model-dir PATH or AVX_MODEL_DIR",
                    fetch::endpoint(),
                    m.repo,
                    m.revision
                )
            });
            if let Some(b) = bar {
                b.finish();
            }
            let dir = dir?;
            if ctx.global.json {
                out.json(
                    &json!({"type": "model_fetched", "name": name, "dir": avx_core::path_json(&dir)}),
                )?;
            } else {
                out.bytes_line(&avx_core::path_bytes(&dir))?;
            }
        }
        ModelCommand::Verify => {
            let choice = ctx.model_choice(None)?;
            let known = registry::find(&choice.name);
            let local = registry::find_local(&choice.name);
            let pinned = |file: &str| {
                known
                    .and_then(|m| m.pinned_sha256(file))
                    .or_else(|| {
                        local
                            .filter(|_| file == "onnx/audio_model.onnx")
                            .map(|m| m.audio_sha256)
                    })
                    .map(str::to_string)
            };
            let checks = fetch::verify_model_dir(&choice.dir, &pinned)
                .with_context(|| format!("cannot verify model '{}'", choice.name))?;
            for c in &checks {
                let status = match (&c.expected, c.ok()) {
                    (_, false) => "MISMATCH",
                    (Some(_), true) => "ok",
                    (None, true) => "recorded",
                };
                if ctx.global.json {
                    out.json(
                        &json!({"type": "model_file", "file": c.file, "sha256": c.sha256,
                        "expected": c.expected, "status": status}),
                    )?;
                } else {
                    out.line(format!("{status:<9} {}  {}", c.sha256, c.file))?;
                }
            }
            out.flush()?;
            if let Some(bad) = checks.iter().find(|c| !c.ok()) {
                anyhow::bail!(
                    "{} in {} is damaged or replaced: sha256 {} but expected {}; fetch it again (`avx model \
                     fetch`) or restore it",
                    bad.file,
                    choice.dir.display(),
                    bad.sha256,
                    bad.expected.as_deref().unwrap_or("")
                );
            }
        }
        ModelCommand::Path => {
            let choice = ctx.model_choice(None)?;
            if ctx.global.json {
                out.json(&json!({"type": "model_path", "name": choice.name, "dir": avx_core::path_json(&choice.dir)}))?;
            } else {
                out.bytes_line(&avx_core::path_bytes(&choice.dir))?;
            }
        }
    }
    out.flush()?;
    Ok(Outcome::Found)
}
