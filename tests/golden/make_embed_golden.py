#!/usr/bin/env python3
"""Reference (golden) CLAP embeddings of the tiny test model tests/fixtures/tiny-clap.

The tiny model's weights are NOT stored as a PyTorch file: they are re-created exactly from
the seed with `build_random_model(tiny=True, seed=0)` in models/export_clap.py (the script
that exported the committed ONNX files). To prove the re-created PyTorch model is the one
that was exported, every vector is also computed with onnxruntime on the committed
onnx/audio_model.onnx, onnx/text_model.onnx (input_ids + attention_mask) and
onnx/text_model_nomask.onnx (input_ids only) and must agree to 1e-5 (L2-normalised vectors).

Audio: for every entry of tests/golden/mel/manifest.json the golden log-mel windows
[W,1001,64] are fed as input_features [W,1,1001,64] to ClapModel.get_audio_features
(L2-normalised per window); the file vector is the mean of the normalised window vectors,
L2-normalised again.

Text: prompts are tokenised with tests/fixtures/tiny-clap/tokenizer.json via `tokenizers`
(truncation to 77 tokens including <s> and </s>, no padding) and embedded one at a time with
ClapModel.get_text_features (L2-normalised), attention mask of ones.

Writes tests/golden/embed/tiny-clap.json.  Run: python tests/golden/make_embed_golden.py
"""
import gzip
import io
import json
import os
import platform
import sys

import numpy as np
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "models"))
import export_clap  # noqa: E402

import onnxruntime as ort  # noqa: E402
import tokenizers  # noqa: E402
import transformers  # noqa: E402

MODEL_DIR = "tests/fixtures/tiny-clap"
SEED = 0
MAX_TOKENS = 77
TOL = 1e-5

PROMPTS = [
    "a dog barking",
    "rain on a tin roof",
    "This is a sound of a kick drum",
    "",
    "a very long prompt describing a busy city street at night with cars passing by, a siren "
    "far away, people talking and laughing outside a cafe, footsteps on wet pavement, a bus "
    "braking at the stop, a dog barking twice behind a fence, distant thunder rolling over the "
    "rooftops, rain starting to fall on tin roofs and umbrellas, a bicycle bell ringing, and "
    "a street musician playing an out-of-tune guitar while a tram squeals around the corner",
]


def l2n(x, axis=-1):
    x = np.asarray(x, dtype=np.float64)
    return x / np.linalg.norm(x, axis=axis, keepdims=True)


def f32list(v):
    # 9 significant digits round-trip float32 exactly
    return [float(f"{float(x):.9g}") for x in np.asarray(v, dtype=np.float32).ravel()]


def load_npy_gz(path):
    with gzip.open(path, "rb") as fh:
        return np.load(io.BytesIO(fh.read()), allow_pickle=False)


def sess(path):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def main():
    print(f"python {platform.python_version()}  torch {torch.__version__}  transformers {transformers.__version__}"
          f"  onnxruntime {ort.__version__}  tokenizers {tokenizers.__version__}  numpy {np.__version__}")
    torch.set_num_threads(2)
    mdir = os.path.join(ROOT, MODEL_DIR)
    with open(os.path.join(mdir, "config.json")) as fh:
        cfg_saved = json.load(fh)
    vocab = cfg_saved["text_config"]["vocab_size"]
    model = export_clap.build_random_model(tiny=True, seed=SEED, vocab_size=vocab,
                                           projection_dim=cfg_saved["projection_dim"])
    cfg_now = model.config.to_dict()
    cfg_now.pop("transformers_version", None)
    cfg_now = json.loads(json.dumps(cfg_now, sort_keys=True))
    if cfg_now != cfg_saved:
        sys.exit("re-created config differs from tests/fixtures/tiny-clap/config.json")

    s_audio = sess(os.path.join(mdir, "onnx", "audio_model.onnx"))
    s_text = sess(os.path.join(mdir, "onnx", "text_model.onnx"))
    s_text_nm = sess(os.path.join(mdir, "onnx", "text_model_nomask.onnx"))
    assert [i.name for i in s_text.get_inputs()] == ["input_ids", "attention_mask"]
    assert [i.name for i in s_text_nm.get_inputs()] == ["input_ids"]

    with open(os.path.join(ROOT, "tests", "golden", "mel", "manifest.json")) as fh:
        manifest = json.load(fh)

    out = {"model": MODEL_DIR,
           "note": "vectors are L2-normalised; file vector = L2(mean of L2-normalised window vectors)",
           "audio": [], "text": []}
    worst_a = worst_raw = worst_file = 0.0
    for e in manifest:
        mel = load_npy_gz(os.path.join(ROOT, e["golden"]))
        feats = mel[:, None, :, :].astype(np.float32)
        with torch.no_grad():
            win = model.get_audio_features(input_features=torch.from_numpy(feats)).pooler_output.numpy()
        vec = l2n(win.astype(np.float64).mean(axis=0))
        raw = s_audio.run(["audio_embeds"], {"input_features": feats})[0]
        onnx_win = l2n(raw)
        onnx_vec = l2n(onnx_win.mean(axis=0))
        d = float(np.abs(onnx_win - win).max())
        worst_a = max(worst_a, d)
        worst_file = max(worst_file, float(np.abs(onnx_vec - vec).max()))
        with torch.no_grad():
            a = model.audio_model(input_features=torch.from_numpy(feats)).pooler_output
            raw_pt = model.audio_projection(a).numpy()
        worst_raw = max(worst_raw, float(np.abs(raw - raw_pt).max()))
        out["audio"].append({"file": e["file"], "windows": e["windows"],
                             "window_vectors": [f32list(w) for w in win], "vector": f32list(vec)})
        print(f"{e['file']:44s} windows={len(win)}  max|ORT-PyTorch| {d:.2e}")

    tok = tokenizers.Tokenizer.from_file(os.path.join(mdir, "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length=MAX_TOKENS)
    worst_t = 0.0
    for text in PROMPTS:
        ids = tok.encode(text).ids
        assert ids[0] == 0 and ids[-1] == 2 and len(ids) <= MAX_TOKENS
        it = torch.tensor([ids], dtype=torch.long)
        with torch.no_grad():
            v = model.get_text_features(input_ids=it, attention_mask=torch.ones_like(it)).pooler_output.numpy()[0]
        ids_np = np.array([ids], dtype=np.int64)
        o1 = l2n(s_text.run(["text_embeds"], {"input_ids": ids_np, "attention_mask": np.ones_like(ids_np)})[0][0])
        o2 = l2n(s_text_nm.run(["text_embeds"], {"input_ids": ids_np})[0][0])
        d = max(float(np.abs(o1 - v).max()), float(np.abs(o2 - v).max()))
        worst_t = max(worst_t, d)
        out["text"].append({"text": text, "ids": ids, "vector": f32list(v)})
        print(f"text {text[:40]!r:44s} {len(ids):3d} tokens  max|ORT-PyTorch| {d:.2e}")

    print(f"max |ORT - PyTorch|, normalised: audio windows {worst_a:.3e}, audio file vectors {worst_file:.3e}, "
          f"text (mask and no-mask models) {worst_t:.3e}; raw (unnormalised) audio_embeds {worst_raw:.3e}")
    if max(worst_a, worst_file, worst_t) > TOL:
        sys.exit(f"ONNX and PyTorch disagree by more than {TOL}")
    dst = os.path.join(ROOT, "tests", "golden", "embed", "tiny-clap.json")
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    with open(dst, "w") as fh:
        json.dump(out, fh, separators=(",", ":"))
        fh.write("\n")
    print(f"wrote {os.path.relpath(dst, ROOT)} ({os.path.getsize(dst) / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
