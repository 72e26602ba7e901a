#!/usr/bin/env python3
"""Reference (golden) log-mel spectrograms for avx's audio front end.

For every losslessly readable test file in tests/data/audio/ (WAV, FLAC, AIFF) plus the
MP3, and the short one-shots in SHORT (tests/data/audio/short/, Vorbis and MP3 marked
"lossy": true), this script:

  1. loads the audio as users of CLAP do (LAION's get_audio_embedding_from_filelist, the
     Hugging Face examples): librosa.load(path, sr=48000) -- libsndfile, mean of channels
     in float32, soxr HQ, and librosa's length rule: ceil(N * float(48000 / sr)) samples
     (fix_length pads soxr's round(N * 48000 / sr) samples with zeros; for 44.1 and
     22.05 kHz that is often one trailing zero, which changes repeatpad's tiling of short
     files: 480000 // 240001 = 1 tile instead of 2). avx reproduces that count.
  2. cuts it into 10 s windows with avx's deterministic rule (see `windows()` below)
  3. feeds each window separately to transformers.ClapFeatureExtractor configured
     exactly as laion/clap-htsat-unfused's preprocessor_config.json
  4. writes tests/golden/mel/<stem>_<ext>.npy.gz  (gzip'd .npy, float32 '<f4', C order,
     shape [windows, 1001, 64]) and tests/golden/mel/manifest.json.

Run from anywhere:  python tests/golden/make_mel_golden.py   (refuses other versions than PINNED unless
given --any-version)
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
# Versions used for the committed goldens (pip install numpy==2.4.6 scipy==1.17.1 librosa==0.11.0
# soundfile==0.14.0 soxr==1.1.0 transformers==5.24.0; torch is not needed): checked below.
PINNED = {"numpy": "2.4.6", "librosa": "0.11.0", "soundfile": "0.14.0", "soxr": "1.1.0", "transformers": "5.24.0"}
# Imported from its module: the top-level name is a placeholder that demands PyTorch, which the extractor only
# needs for the "fusion" truncation (not used here: every window has at most 480000 samples).
from transformers.models.clap.feature_extraction_clap import ClapFeatureExtractor

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
AUDIO_DIR = os.path.join(ROOT, "tests", "data", "audio")
OUT_DIR = os.path.join(ROOT, "tests", "golden", "mel")

SR = 48000
W = 480000  # window length in samples (10 s)
H = 480000  # hop in samples (default: no overlap)

LOSSLESS_EXT = {".wav", ".flac", ".aiff", ".aif"}
LOSSY_INCLUDED = {".mp3", ".ogg", ".opus"}  # included with "lossy": true (decoder-dependent; looser tolerance)
# Short one-shots (issue 12): lengths from one sample up, 8 to 96 kHz, stereo, Vorbis, MP3, Opus. Kept to a few so
# that the goldens stay small (a 10 s window is about 200 kB gzip'd whatever the file's length).
SHORT = [
    "short/mono44k_1smp.wav",
    "short/stereo44k_70ms.wav",
    "short/mono44k_0p5s.wav",
    "short/stereo44k_0p5s.ogg",
    "short/mono48k_70ms.wav",
    "short/mono22k_90ms.wav",
    "short/mono8k_0p5s.wav",
    "short/stereo96k_0p25s.wav",
    "short/mono48k_70ms.opus",
]

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
    orig_sr = sf.info(path).samplerate
    y, _ = librosa.load(path, sr=SR, mono=True)  # res_type="soxr_hq"
    n = sf.info(path).frames
    if orig_sr != SR:
        assert len(y) == int(np.ceil(n * (float(SR) / orig_sr))), (path, len(y))
    return y.astype(np.float32), orig_sr, orig_sr != SR


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
    from importlib.metadata import version
    wrong = [f"{p} {version(p)} (want {w})" for p, w in PINNED.items() if version(p) != w]
    if wrong and "--any-version" not in sys.argv:
        sys.exit("installed versions differ from the pinned ones: " + ", ".join(wrong)
                 + "; install the pinned versions (see the top of this file) or pass --any-version")
    print(f"python {platform.python_version()}  numpy {np.__version__}  transformers {transformers.__version__}"
          f"  librosa {librosa.__version__}  soundfile {sf.__version__} (libsndfile {sf.__libsndfile_version__})"
          f"  soxr {soxr.__version__}  scipy {__import__('scipy').__version__}")
    fe = ClapFeatureExtractor(**EXTRACTOR_KW)
    os.makedirs(OUT_DIR, exist_ok=True)
    manifest = []
    names = sorted(n for n in os.listdir(AUDIO_DIR) if os.path.isfile(os.path.join(AUDIO_DIR, n))) + SHORT
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
        stem, _ = os.path.splitext(name.replace("/", "_"))
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
            "resampler": "librosa.load(sr=48000): soxr HQ (python-soxr %s), length ceil(N*float(48000/sr))"
            % soxr.__version__ if resampled else None,
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
