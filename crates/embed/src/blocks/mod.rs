//! Block front ends: one log-mel of the whole file, cut into blocks of frames (aiSFX and models like it).
//!
//! CLAP cuts the *signal* into 10 s windows and computes a log-mel per window ([`crate::frontend`],
//! [`crate::window`]). Models such as aiSFX (Ma and Lerch, ISMIR 2022) instead compute one log-mel spectrogram of
//! the whole (level-normalised) file and cut it into blocks of `block_frames` frames every `hop_frames` frames.
//! [`BlockSpec`] describes such a front end as data, read from the `frontend` object of a model directory's
//! `avx-model.json` (written by `models/aisfx/export.py`); [`BlockStream`] turns a file into its model inputs.
//!
//! The computation, matching the aisfx package's librosa path (librosa 0.11) step for step:
//!
//! 1. decode, down-mix to mono, resample to `sample_rate`;
//! 2. `level: "peak"`: divide every sample by the file's max |x| (a silent file is left alone);
//! 3. centred STFT: `n_fft / 2` samples of padding on both sides (`center_pad`: `constant` = zeros, as librosa
//!    0.10 and later; `reflect` as librosa 0.9), periodic Hann window of `n_fft`, a frame every `hop_length` samples, so
//!    `1 + N / hop_length` frames for `N` samples; computed in f64, rounded to complex64 as librosa stores it;
//! 4. power spectrum, mel filter bank (`mel_scale`, `f_min`..`f_max`, `mel_norm`: `l1` = each filter scaled to
//!    unit sum, librosa's `norm=1.0`);
//! 5. `compression: log10_affine`: `log10(mel * scale + offset) / divisor`;
//! 6. blocks of `block_frames` frames starting every `hop_frames` frames; a last partial block is dropped; a file
//!    with fewer than `block_frames` frames gives one block padded with zero rows (`aisfx.preprocessing.blocking`
//!    with `drop_partial_block=True`). Each block is laid out time-major, `[block_frames, n_mels]`.
//!
//! Block `b` starts at `b * hop_frames * hop_length / sample_rate` seconds and ends `block_frames * hop_length /
//! sample_rate` seconds later, or at the end of the file if that comes first (the frame centres of the block are
//! `(b * hop_frames + i) * hop_length` samples, `i < block_frames`).
//!
//! **Memory.** Peak normalisation needs the whole file's maximum before the first frame. A first pass decodes and
//! resamples the file, keeping the samples while they fit in [`BUFFER_SECONDS`] (sound effects and samples, the
//! files this kind of model is for, almost always do); a longer file is decoded a second time instead of being
//! held, so memory stays bounded (about one block of samples and frames) whatever the file's length. Both passes
//! are deterministic, so the result is the same either way.
//!
//! The module is split at its seams: `spec` (the parameters and their JSON form), `dsp` (the Hann window,
//! mel filters and the streaming centred STFT) and `stream` (the two-pass file reader that yields blocks).

mod dsp;
mod spec;
mod stream;

pub use spec::{BlockParams, BlockSpec, CenterPad, Compression, FilterNorm, Level};
pub use stream::{BlockStream, BUFFER_SECONDS};
