#!/usr/bin/env python3
"""aiSFX reference vectors of a few committed test files, for crates/embed/tests/aisfx_parity.rs.

Runs the aisfx package's librosa pipeline (eval/aisfx_reference.py) with the real aiSFX ONNX
(../shared/models/aisfx/aisfx_embedding.onnx, or --onnx) and writes tests/golden/aisfx/reference.json:
per file its block count and pooled vector (mean of L2-normalised block embeddings, L2-normalised).
"""
import argparse
import json
import os
import sys

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "eval"))
import aisfx_reference as ref  # noqa: E402

FILES = ["stereo44k_s16_4s.aiff", "mono48k_s16_3s.wav", "mono22k_5s.flac"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--onnx", default=os.path.join(ROOT, "..", "shared", "models", "aisfx", "aisfx_embedding.onnx"))
    a = ap.parse_args()
    import onnxruntime as ort
    import librosa
    sess = ort.InferenceSession(a.onnx, providers=["CPUExecutionProvider"])
    out = {"made_by": "tests/golden/make_aisfx_golden.py", "librosa": librosa.__version__, "files": []}
    for name in FILES:
        spec = ref.log_mel(os.path.join(ROOT, "tests", "data", "audio", name))
        blocks = ref.blocking(spec).astype(np.float32)
        emb = sess.run(["embedding"], {"spectrogram": blocks})[0]
        out["files"].append({"file": name, "frames": int(spec.shape[0]), "blocks": int(len(blocks)),
                             "vector": [float(f"{v:.7g}") for v in ref.pool(emb.astype(np.float64))]})
    path = os.path.join(ROOT, "tests", "golden", "aisfx", "reference.json")
    with open(path, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
