#!/usr/bin/env python3
"""The aiSFX package's own Python pipeline, as a reference for avx.

For every audio file given (or every file under a directory), computes what the PyPI `aisfx` 0.1.2 package
computes with its librosa front end (`aisfx.spectrogram.spectrogram_librosa.compute_spectrogram`, then
`aisfx.preprocessing.spectrogram_normalize(spec_norm='original')`, then `aisfx.preprocessing.blocking` with a hop of
0.5 blocks and `drop_partial_block=True`), runs the embedding network (the ONNX export, or the package's PyTorch
checkpoint with --torch) on the blocks, and writes one JSON object per file:

    {"path", "label", "frames", "blocks", "vector", "baseline"}

- `vector`: the file vector as avx pools it: mean of the L2-normalised block embeddings, L2-normalised;
- `baseline`: the mean-log-mel baseline: mean over frames of the same normalised log-mel (96 values).

The package's librosa path returns the spectrogram as librosa lays it out, `[n_mels, frames]`, and blocks it along
the first axis, which would cut mel bins instead of time; its Essentia path (the paper's) returns `[frames,
n_mels]`. This script transposes to `[frames, n_mels]`, as the model expects (`EmbeddingNet.forward`: "Input:
(batch_size, times_steps, freq_bins)").

librosa >= 0.10 pads the centred STFT with zeros (`pad_mode="constant"`); 0.9.2, which the package pins, pads with
`reflect`. `--pad-mode` chooses; the default is librosa's own default of the installed version (the reference figure
in ../shared/models/aisfx/README.md was measured with librosa 0.11).

Usage: aisfx_reference.py [--onnx PATH | --torch] [--pad-mode constant|reflect] --out OUT.json FILES_OR_DIRS...
"""
import argparse
import json
import os
import sys

import numpy as np
import librosa

SR = 44100
N_FFT = 2048
HOP = 1024
N_MELS = 96
NORM_MAX = 9.457798957824707
BLOCK = 100
BLOCK_HOP = 50


def label_of(path):
    return os.path.basename(path).split("_")[0]


def log_mel(path, pad_mode=None):
    """aisfx.spectrogram.spectrogram_librosa.compute_spectrogram, then spectrogram_normalize('original')."""
    y, sr = librosa.load(path=path, sr=SR)
    f_norm = np.max(np.abs(y))
    if f_norm == 0:
        f_norm = 1
    y = y / f_norm
    kw = {} if pad_mode is None else {"pad_mode": pad_mode}
    spec = librosa.feature.melspectrogram(y=y, sr=sr, n_mels=N_MELS, norm=1.0, fmin=0.0, fmax=22050.0, htk=True,
                                          power=2.0, hop_length=HOP, win_length=N_FFT, **kw)
    spec = np.log10(spec * 10000.0 + 1)
    spec = (spec - 0) / (NORM_MAX - 0)
    return spec.T  # [frames, n_mels]


def blocking(data, block_size=BLOCK, hop_size=BLOCK_HOP):
    """aisfx.preprocessing.blocking with drop_partial_block=True (copied: the package imports torch at import)."""
    num_blocks = int(np.ceil((data.shape[0] - block_size) / hop_size + 1))
    if (data.shape[0] - block_size) % hop_size != 0:
        num_blocks -= 1
    if num_blocks < 1:
        num_blocks = 1
    data = np.vstack((data, np.zeros((block_size, data.shape[-1]))))
    return np.stack([np.array(data[i * hop_size:i * hop_size + block_size]) for i in range(num_blocks)])


def pool(blocks):
    b = blocks / np.maximum(np.linalg.norm(blocks, axis=1, keepdims=True), 1e-30)
    m = b.mean(axis=0)
    return m / np.linalg.norm(m)


def audio_files(args):
    exts = (".wav", ".flac", ".aif", ".aiff", ".mp3", ".ogg")
    out = []
    for a in args:
        if os.path.isdir(a):
            for root, _, files in os.walk(a):
                out += [os.path.join(root, f) for f in files if f.lower().endswith(exts)]
        else:
            out.append(a)
    return sorted(os.path.abspath(p) for p in out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--onnx", default=os.path.join(os.path.dirname(__file__), "../../shared/models/aisfx/aisfx_embedding.onnx"))
    ap.add_argument("--torch", action="store_true", help="run the package's PyTorch checkpoint instead of the ONNX")
    ap.add_argument("--pad-mode", choices=["constant", "reflect"], default=None)
    ap.add_argument("--out", required=True)
    ap.add_argument("paths", nargs="+")
    a = ap.parse_args()

    if a.torch:
        import torch
        import aisfx.inference as inf
        weights, ds = inf.load_weights("cpu")
        net = inf.load_bestModel(weights, ds, "cpu")
        run = lambda x: net.get_embedding(torch.from_numpy(x)).detach().numpy()
    else:
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        sess = ort.InferenceSession(a.onnx, so, providers=["CPUExecutionProvider"])
        run = lambda x: sess.run(["embedding"], {"spectrogram": x})[0]

    files = audio_files(a.paths)
    with open(a.out, "w") as f:
        for i, p in enumerate(files):
            spec = log_mel(p, a.pad_mode)
            blocks = blocking(spec).astype(np.float32)
            emb = run(blocks)
            f.write(json.dumps({
                "path": p, "label": label_of(p), "frames": int(spec.shape[0]), "blocks": int(len(blocks)),
                "vector": [float(v) for v in pool(emb.astype(np.float64))],
                "baseline": [float(v) for v in spec.mean(axis=0)],
            }) + "\n")
            if (i + 1) % 25 == 0:
                print(f"{i + 1}/{len(files)}", file=sys.stderr)


if __name__ == "__main__":
    main()
