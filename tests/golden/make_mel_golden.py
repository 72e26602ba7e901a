#!/usr/bin/env python3
"""Reference (golden) log-mel spectrograms for avx's audio front end.

For every losslessly readable test file in tests/data/audio/ (WAV, FLAC, AIFF) plus one
MP3 (marked "lossy": true), this script:

  1. loads the audio as mono float32 at 48 kHz
       - 48 kHz files: soundfile.read (float64), mono = mean of channels, cast to float32
       - other rates:  librosa.load(path, sr=None, mono=True) (native rate, mean of
                       channels), then soxr.resample(y, sr, 48000, quality="HQ") -- the
                       same soxr_hq resampler librosa.load(sr=48000) uses, but WITHOUT
                       librosa's length fix-up: librosa pads to ceil(N * float(48000/sr)),
                       which for 22050 Hz x 110250 samples is ceil(240000.00000000003) =
                       240001, i.e. one spurious trailing zero; that changes repeatpad's
                       tile count (480000 // 240001 = 1 instead of 2). soxr itself
                       returns round(N * 48000 / sr) samples. The script asserts that
                       the soxr output equals librosa.load(sr=48000)'s on the common
                       prefix, bit for bit.
  2. cuts it into 10 s windows with avx's deterministic rule (see `windows()` below)
  3. feeds each window separately to transformers.ClapFeatureExtractor configured
     exactly as laion/clap-htsat-unfused's preprocessor_config.json
  4. writes tests/golden/mel/<stem>_<ext>.npy.gz  (gzip'd .npy, float32 '<f4', C order,
     shape [windows, 1001, 64]) and tests/golden/mel/manifest.json.

Run from anywhere:  python tests/golden/make_mel_golden.py
"""
import gzip
import io
import json
import os
import platform
import sys

import numpy as np
import soundfile as sf
import librosa
import soxr
import transformers
from transformers import ClapFeatureExtractor

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
AUDIO_DIR = os.path.join(ROOT, "tests", "data", "audio")
OUT_DIR = os.path.join(ROOT, "tests", "golden", "mel")

SR = 48000
W = 480000  # window length in samples (10 s)
H = 480000  # hop in samples (default: no overlap)

LOSSLESS_EXT = {".wav", ".flac", ".aiff", ".aif"}
LOSSY_INCLUDED = {".mp3"}  # included with "lossy": true (decoder-dependent; looser tolerance)

# laion/clap-htsat-unfused preprocessor_config.json, written out explicitly.
EXTRACTOR_KW = dict(
    feature_size=64,
    sampling_rate=48000,
    hop_length=480,
    max_length_s=10,
    fft_window_size=1024,
    padding_value=0.0,
    return_attention_mask=False,
    frequency_min=50,
    frequency_max=14000,
    top_db=None,
    truncation="rand_trunc",  # never triggered: every window has <= 480000 samples
    padding="repeatpad",
)


def windows(n, w=W, h=H):
    """avx's windowing rule. Returns a list of (start, end) sample indices.

    n <= w : one window [0, n) (the extractor repeat-pads it; the reported end is n).
    n >  w : starts k*h for k = 0, 1, ... while start + w <= n; if the last such
             window ends before n, one more window starting at n - w (end-aligned).
    """
    if n <= w:
        return [(0, n)]
    out = []
    start = 0
    while start + w <= n:
        out.append((start, start + w))
        start += h
    if out[-1][1] < n:
        out.append((n - w, n))
    return out


def load_mono_48k(path):
    ext = os.path.splitext(path)[1].lower()
    if ext in LOSSLESS_EXT and sf.info(path).samplerate == SR:
        data, sr = sf.read(path, dtype="float64", always_2d=True)
        y = data.mean(axis=1).astype(np.float32)
        return y, sr, False
    y_native, orig_sr = librosa.load(path, sr=None, mono=True)
    if orig_sr == SR:
        return y_native.astype(np.float32), orig_sr, False
    y = soxr.resample(y_native, orig_sr, SR, quality="HQ").astype(np.float32)
    y_lr, _ = librosa.load(path, sr=SR, mono=True)  # res_type="soxr_hq"
    m = min(len(y), len(y_lr))
    assert np.array_equal(y[:m], y_lr[:m]), path
    assert len(y_lr) - len(y) in (0, 1) and not np.any(y_lr[m:]), (len(y), len(y_lr))
    return y, orig_sr, True


def npy_gz_bytes(arr):
    arr = np.ascontiguousarray(arr, dtype="<f4")
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    out = io.BytesIO()
    # mtime=0 and no file name: byte-for-byte reproducible output
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=9) as gz:
        gz.write(buf.getvalue())
    return out.getvalue()


def librosa_crosscheck(win):
    """Independent librosa computation of the same features (sanity check only)."""
    n = len(win)
    x = win.astype(np.float64)
    if n < W:
        x = np.tile(x, W // n)
        x = np.pad(x, (0, W - len(x)))
    S = librosa.feature.melspectrogram(
        y=x, sr=SR, n_fft=1024, hop_length=480, win_length=1024, window="hann",
        center=True, pad_mode="reflect", power=2.0, n_mels=64, fmin=50, fmax=14000,
        htk=False, norm="slaney",
    )
    return (10.0 * np.log10(np.maximum(S, 1e-10))).T


def main():
    print(f"python {platform.python_version()}  numpy {np.__version__}  transformers {transformers.__version__}"
          f"  librosa {librosa.__version__}  soundfile {sf.__version__} (libsndfile {sf.__libsndfile_version__})"
          f"  soxr {soxr.__version__}  scipy {__import__('scipy').__version__}")
    fe = ClapFeatureExtractor(**EXTRACTOR_KW)
    os.makedirs(OUT_DIR, exist_ok=True)
    manifest = []
    names = sorted(os.listdir(AUDIO_DIR))
    for name in names:
        ext = os.path.splitext(name)[1].lower()
        if ext not in LOSSLESS_EXT and ext not in LOSSY_INCLUDED:
            continue
        path = os.path.join(AUDIO_DIR, name)
        y, orig_sr, resampled = load_mono_48k(path)
        wins = windows(len(y))
        feats = []
        xdiff = 0.0
        for s, e in wins:
            win = y[s:e]
            f = fe(win, sampling_rate=SR, return_tensors="np")["input_features"]
            assert f.shape == (1, 1, 1001, 64), f.shape
            feats.append(f[0, 0].astype(np.float32))
            xdiff = max(xdiff, float(np.abs(librosa_crosscheck(win) - f[0, 0]).max()))
        mel = np.stack(feats, axis=0)
        stem, _ = os.path.splitext(name)
        gname = f"{stem}_{ext[1:]}.npy.gz"
        with open(os.path.join(OUT_DIR, gname), "wb") as fh:
            fh.write(npy_gz_bytes(mel))
        entry = {
            "file": f"tests/data/audio/{name}",
            "golden": f"tests/golden/mel/{gname}",
            "sample_rate": int(orig_sr),
            "channels": int(sf.info(path).channels),
            "resampled": bool(resampled),
            "lossy": ext in LOSSY_INCLUDED,
            "num_samples_48k": int(len(y)),
            "resampler": "soxr HQ (python-soxr %s), output length round(N*48000/sr)" % soxr.__version__
            if resampled else None,
            "windows": [[s / SR, (e if len(y) <= W else s + W) / SR] for s, e in wins],
        }
        manifest.append(entry)
        print(f"{name:28s} sr={orig_sr:5d} n48k={len(y):7d} windows={entry['windows']} "
              f"mel[min={mel.min():.2f} max={mel.max():.2f}]  |extractor-librosa|max={xdiff:.2e} dB")
    with open(os.path.join(OUT_DIR, "manifest.json"), "w") as fh:
        json.dump(manifest, fh, indent=1)
        fh.write("\n")
    print(f"wrote {len(manifest)} goldens + manifest.json to {os.path.relpath(OUT_DIR, ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
