//! Crash injection for the crash-safety tests.
//!
//! Every step of the commit protocol calls [`point`] with its name. When the environment variable
//! `AVX_INDEX_CRASH_AT` is `STEP` or `STEP:N`, the process aborts (as `kill -9` would stop it: no
//! destructors, no flushing) the N-th time (default 1st) it reaches `STEP`. The variable is read
//! once; unset, every point costs one atomic load. The step names are listed in `index-format.md`
//! ("Commit protocol").

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// Name of the environment variable that arms a crash point.
pub const CRASH_ENV: &str = "AVX_INDEX_CRASH_AT";

static TARGET: OnceLock<Option<(String, u32)>> = OnceLock::new();
static HITS: AtomicU32 = AtomicU32::new(0);

fn target() -> &'static Option<(String, u32)> {
    TARGET.get_or_init(|| {
        let v = std::env::var(CRASH_ENV).ok()?;
        match v.split_once(':') {
            Some((s, n)) => Some((s.to_string(), n.parse().unwrap_or(1))),
            None => Some((v, 1)),
        }
    })
}

/// Counts a hit of `step`; true when this hit is the one that must crash.
pub(crate) fn armed(step: &str) -> bool {
    match target() {
        Some((s, n)) if s == step => HITS.fetch_add(1, Ordering::SeqCst) + 1 == *n,
        _ => false,
    }
}

/// Aborts the process here if `AVX_INDEX_CRASH_AT` names this step (and hit count).
pub(crate) fn point(step: &str) {
    if armed(step) {
        crash(step);
    }
}

pub(crate) fn crash(step: &str) -> ! {
    eprintln!("avx_index: injected crash at {step}");
    std::process::abort()
}
