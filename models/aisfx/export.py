#!/usr/bin/env python3
"""Exports the aiSFX sound-effects embedding network to an avx model directory.

The network and its weights come from the PyPI package `aisfx` 0.1.2 (Ma and Lerch, "Representation Learning for
the Automatic Indexing of Sound Effects Libraries", ISMIR 2022; code MIT, pre-trained model CC BY 4.0). The package
ships `aisfx/models/checkpoint.pth`, a `CrossNet` (cross-dataset classifier heads around a shared trunk); avx needs
only the trunk, `EmbeddingNet('max', 3, 1, 64)`, which maps a block of 100 log-mel frames x 96 bins to a 512-d
embedding. It is exported unchanged with `torch.onnx.export` (opset 17, the TorchScript exporter: dynamo=False),
input `spectrogram` float32 [batch, 100, 96], output `embedding` float32 [batch, 512] (not normalised).

Output layout (what `avx --model-dir DIR` and `avx --model aisfx` read):

    DIR/onnx/audio_model.onnx   the network
    DIR/avx-model.json          model family, front end (as data), provenance and sha256
    DIR/README.md               credits and licence

Set-up (any machine with Python 3.9+; the package's declared dependencies are not needed):

    python3 -m venv venv && venv/bin/pip install torch onnx numpy && venv/bin/pip install --no-deps aisfx==0.1.2
    venv/bin/python models/aisfx/export.py --out "${AVX_HOME:-$HOME/.cache/avx}/models/aisfx/0.1.2"

`--check REF.onnx` compares the export with another ONNX file (e.g. ../shared/models/aisfx/aisfx_embedding.onnx):
sha256, then outputs on random and real-valued inputs through onnxruntime (if installed).
"""
import argparse
import hashlib
import json
import os
import sys

PACKAGE_VERSION = "0.1.2"
FAMILY = "aisfx"

# The front end the network was trained with, as avx reads it (crates/embed/src/frontend.rs, `FrontEndSpec`).
FRONTEND = {
    "sample_rate": 44100,
    "level": "peak",            # divide the whole file by max |x| (unless silent)
    "n_fft": 2048,
    "hop_length": 1024,
    "window": "hann",           # periodic Hann, length n_fft
    "center_pad": "constant",   # centred STFT padded with zeros, as librosa >= 0.10 (see README)
    "power": 2.0,
    "n_mels": 96,
    "f_min": 0.0,
    "f_max": 22050.0,
    "mel_scale": "htk",
    "mel_norm": "l1",           # each filter scaled to unit sum (librosa norm=1.0)
    "compression": {"type": "log10_affine", "scale": 10000.0, "offset": 1.0, "divisor": 9.457798957824707},
    "blocks": {"frames": 100, "hop_frames": 50, "last_partial": "drop", "short": "zero_pad"},
}


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


README = """# aiSFX (sound-effects embeddings) for avx

Made by `models/aisfx/export.py` from the PyPI package `aisfx` {version}.

- Model: Alison B. Ma and Alexander Lerch, "Representation Learning for the Automatic Indexing of Sound Effects
  Libraries", Proceedings of the 23rd International Society for Music Information Retrieval Conference (ISMIR),
  2022. Code: https://github.com/alisonbma/aisfx (MIT). Pre-trained model: CC BY 4.0; credit the authors and the
  paper wherever this model is shipped or documented.
- `onnx/audio_model.onnx`: the embedding trunk of the package's `checkpoint.pth` (`EmbeddingNet('max', 3, 1, 64)`),
  input `spectrogram` [N, 100, 96], output `embedding` [N, 512]. sha256 `{sha}`.
- `avx-model.json`: the front end it was trained with, read by avx. Audio only: no text tower, so `avx search` and
  `avx tag` do not work with it.
"""


def load_checkpoint():
    """The package's checkpoint: (state_dict, {dataset: (index, classes)}).

    Loaded with `weights_only=True` where torch supports it, allowing only the NumPy scalar and dtype types the
    pickle holds (the dataset indices are NumPy integers); older torch loads it as `aisfx.inference.load_weights`
    does.
    """
    import numpy as np
    import torch
    import aisfx.inference as inf
    path = inf.get_path_modelWeights()
    try:
        try:
            from numpy._core.multiarray import scalar
        except ImportError:  # NumPy 1.x
            from numpy.core.multiarray import scalar
        allowed = [(scalar, "numpy.core.multiarray.scalar"), np.dtype,
                   type(np.dtype(np.int64)), type(np.dtype(np.float64))]
        with torch.serialization.safe_globals(allowed):
            return torch.load(path, map_location="cpu", weights_only=True)
    except (AttributeError, TypeError):  # torch < 2.5: no safe_globals with names
        return inf.load_weights("cpu")


def export(out_dir):
    import torch
    import aisfx.inference as inf
    from aisfx.models.cnn2d import EmbeddingNet

    weights, ds_dict = load_checkpoint()
    cross = inf.load_bestModel(weights, ds_dict, "cpu")
    net = cross.embedding_net
    assert isinstance(net, EmbeddingNet)
    net.eval()
    onnx_dir = os.path.join(out_dir, "onnx")
    os.makedirs(onnx_dir, exist_ok=True)
    path = os.path.join(onnx_dir, "audio_model.onnx")
    dummy = torch.zeros(1, 100, 96)
    kwargs = dict(input_names=["spectrogram"], output_names=["embedding"],
                  dynamic_axes={"spectrogram": {0: "batch"}, "embedding": {0: "batch"}}, opset_version=17)
    try:
        torch.onnx.export(net, (dummy,), path, dynamo=False, **kwargs)
    except TypeError:  # torch < 2.5 has no `dynamo` argument (and uses the TorchScript exporter anyway)
        torch.onnx.export(net, (dummy,), path, **kwargs)
    digest = sha256(path)
    meta = {
        "format": "avx-model",
        "format_version": 1,
        "family": FAMILY,
        "name": FAMILY,
        "dim": 512,
        "text": False,
        "audio_input": {"name": "spectrogram", "shape": [100, 96]},
        "audio_output": {"name": "embedding", "dim": 512},
        "frontend": FRONTEND,
        "files": {"onnx/audio_model.onnx": digest},
        "source": f"PyPI aisfx {PACKAGE_VERSION}, aisfx/models/checkpoint.pth, EmbeddingNet('max', 3, 1, 64) "
                  f"(trunk of CrossNet); torch {torch.__version__}, torch.onnx.export opset 17, dynamo=False",
        "credit": "Alison B. Ma and Alexander Lerch, Representation Learning for the Automatic Indexing of Sound "
                  "Effects Libraries, ISMIR 2022",
        "license": "model CC BY 4.0; code MIT",
    }
    with open(os.path.join(out_dir, "avx-model.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    with open(os.path.join(out_dir, "README.md"), "w") as f:
        f.write(README.format(version=PACKAGE_VERSION, sha=digest))
    return path, net


def check(path, ref, net):
    import numpy as np
    import torch
    a, b = sha256(path), sha256(ref)
    print(f"sha256 export    {a}\nsha256 reference {b}")
    if a == b:
        print("bit-identical: yes")
        return True
    print("bit-identical: no; comparing outputs")
    try:
        import onnxruntime as ort
    except ImportError:
        print("onnxruntime is not installed: cannot compare outputs", file=sys.stderr)
        return False
    rng = np.random.default_rng(0)
    x = rng.uniform(0.0, 1.0, size=(8, 100, 96)).astype(np.float32)
    ya = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"spectrogram": x})[0]
    yb = ort.InferenceSession(ref, providers=["CPUExecutionProvider"]).run(None, {"spectrogram": x})[0]
    with torch.no_grad():
        yt = net(torch.from_numpy(x)).numpy()
    d_ref = float(np.abs(ya - yb).max())
    d_torch = float(np.abs(ya - yt).max())
    print(f"max |export - reference| {d_ref:.3g}; max |export - torch| {d_torch:.3g}")
    return d_ref <= 1e-4


def main():
    ap = argparse.ArgumentParser(description="Export aiSFX to an avx model directory.")
    ap.add_argument("--out", required=True, help="model directory to write")
    ap.add_argument("--check", metavar="REF.onnx", help="compare with this ONNX file")
    a = ap.parse_args()
    path, net = export(a.out)
    print(f"wrote {a.out} (onnx/audio_model.onnx, avx-model.json, README.md)")
    if a.check and not check(path, a.check, net):
        sys.exit(1)


if __name__ == "__main__":
    main()
