#!/usr/bin/env python3
"""aiSFX reference vectors of committed test files, for crates/embed/tests/aisfx_parity.rs.

Runs the aisfx 0.1.2 package's OWN functions, unmodified, on every file in FILES:
  aisfx.spectrogram.spectrogram_librosa.compute_spectrogram(path, sr=44100, block_size=2048, hop_size=1024,
      n_mels=96, f_min=0, f_max=22050)          (librosa.load(sr=44100): soxr HQ, length ceil(N*44100/sr))
  aisfx.preprocessing.spectrogram_normalize(spec, spec_norm="original")
  aisfx.preprocessing.blocking(spec.T, 100, 50, drop_partial_block=True)
then the real aiSFX ONNX (models/aisfx/onnx/audio_model.onnx) on the blocks, and writes
tests/golden/aisfx/reference.json: per file its sample rate, frame count, block count, whether librosa resampled it,
and the pooled vector (mean of L2-normalised block embeddings, L2-normalised), 7 significant digits.

The package's librosa path returns the spectrogram as librosa lays it out, [n_mels, frames]; the model takes
[frames, n_mels] (EmbeddingNet.forward: "(batch_size, times_steps, freq_bins)"), so it is transposed before
blocking, as the package's Essentia path (the paper's) returns it.

`import aisfx` imports torch (aisfx/utils.py) although these functions do not use it; the two modules are loaded
from the installed package's files directly so that torch is not needed. Install (versions used for the committed
file, Python 3.11.7):

    python3 -m venv /work/venvs/parity
    /work/venvs/parity/bin/pip install numpy==2.4.6 scipy==1.17.1 librosa==0.11.0 soundfile==0.14.0 soxr==1.1.0 \\
        onnxruntime==1.31.1
    /work/venvs/parity/bin/pip install --no-deps aisfx==0.1.2
    /work/venvs/parity/bin/python tests/golden/make_aisfx_golden.py
"""
import argparse
import importlib.util
import json
import os
import sys

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
AUDIO = os.path.join(ROOT, "tests", "data", "audio")

PINNED = {"aisfx": "0.1.2", "librosa": "0.11.0", "numpy": "2.4.6", "soundfile": "0.14.0", "soxr": "1.1.0",
          "onnxruntime": "1.31.1"}

# (file under tests/data/audio, what it tests)
FILES = [
    ("stereo44k_s16_4s.aiff", "44.1 kHz stereo, 173 frames"),
    ("mono48k_s16_3s.wav", "48 kHz, resampled"),
    ("mono22k_5s.flac", "22.05 kHz, resampled"),
    ("mono16k_s16_11s.wav", "16 kHz, resampled, noise up to Nyquist"),
    ("mono8k_u8_3s.wav", "8 kHz 8-bit, resampled"),
    ("short/mono44k_1smp.wav", "one sample"),
    ("short/mono44k_10ms.wav", "10 ms, one frame"),
    ("short/stereo44k_70ms.wav", "70 ms stereo, 4 frames"),
    ("short/mono44k_0p5s.wav", "0.5 s, 22 frames"),
    ("short/mono44k_100frames.wav", "exactly one block"),
    ("short/mono44k_101frames.wav", "one block and one frame"),
    ("short/stereo44k_0p5s.ogg", "Vorbis 0.5 s"),
    ("short/mono48k_1smp.wav", "one sample at 48 kHz, resampled"),
    ("short/mono48k_70ms.wav", "70 ms at 48 kHz, resampled"),
    ("short/mono8k_0p5s.wav", "8 kHz short, resampled"),
    ("short/mono11k_0p22s.wav", "11.025 kHz short, resampled"),
    ("short/mono16k_0p3s.wav", "16 kHz short, resampled"),
    ("short/mono22k_90ms.wav", "22.05 kHz 90 ms, resampled"),
    ("short/stereo32k_0p5s.wav", "32 kHz stereo, resampled"),
    ("short/stereo96k_0p25s.wav", "96 kHz stereo, resampled"),
]


def load_module(name, relpath):
    import librosa  # noqa: F401  (the spectrogram module imports it)
    spec = importlib.util.find_spec("aisfx")
    base = list(spec.submodule_search_locations)[0]
    s = importlib.util.spec_from_file_location(name, os.path.join(base, relpath))
    m = importlib.util.module_from_spec(s)
    s.loader.exec_module(m)
    return m


def pool(emb):
    b = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-30)
    m = b.mean(axis=0)
    return m / np.linalg.norm(m)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--onnx", default=os.path.join(ROOT, "models", "aisfx", "onnx", "audio_model.onnx"))
    ap.add_argument("--any-version", action="store_true", help="run with other package versions than PINNED")
    a = ap.parse_args()
    import librosa
    import onnxruntime as ort
    import soundfile as sf
    import soxr
    from importlib.metadata import version

    pre = load_module("aisfx_preprocessing", "preprocessing.py")
    spg = load_module("aisfx_spectrogram_librosa", os.path.join("spectrogram", "spectrogram_librosa.py"))
    versions = {p: version(p) for p in PINNED}
    wrong = [f"{p} {versions[p]} (want {w})" for p, w in PINNED.items() if versions[p] != w]
    if wrong and not a.any_version:
        sys.exit("installed versions differ from the pinned ones: " + ", ".join(wrong)
                 + "; install them (see the top of this file) or pass --any-version")
    print(versions, "libsndfile", sf.__libsndfile_version__)
    sess = ort.InferenceSession(a.onnx, providers=["CPUExecutionProvider"])
    out = {"made_by": "tests/golden/make_aisfx_golden.py", "versions": versions, "files": []}
    for name, what in FILES:
        path = os.path.join(AUDIO, name)
        sr = sf.info(path).samplerate
        spec = spg.compute_spectrogram(path, sr=44100, block_size=2048, hop_size=1024, n_mels=96,
                                       f_min=0.0, f_max=22050.0)
        spec = pre.spectrogram_normalize(spec, spec_norm="original").T  # [frames, n_mels]
        blocks = pre.blocking(spec, 100, 50, drop_partial_block=True).astype(np.float32)
        emb = sess.run(["embedding"], {"spectrogram": blocks})[0]
        out["files"].append({"file": name, "what": what, "sample_rate": int(sr), "resampled": sr != 44100,
                             "frames": int(spec.shape[0]), "blocks": int(len(blocks)),
                             "vector": [float(f"{v:.7g}") for v in pool(emb.astype(np.float64))]})
        print(f"{name:32s} sr={sr:6d} frames={spec.shape[0]:4d} blocks={len(blocks)}")
    path = os.path.join(ROOT, "tests", "golden", "aisfx", "reference.json")
    with open(path, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
