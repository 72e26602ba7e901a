#!/usr/bin/env python3
"""Export a LAION CLAP model (transformers `ClapModel`) to ONNX in the Xenova / Hugging Face
layout that avx loads:

    OUT/config.json                  model.config.to_dict()
    OUT/preprocessor_config.json     ClapFeatureExtractor settings (clap-htsat-unfused)
    OUT/tokenizer.json               RoBERTa-style byte-level BPE (plus tokenizer_config.json,
                                     vocab.json, merges.txt)
    OUT/onnx/audio_model.onnx        input_features f32 [N,1,1001,64] -> audio_embeds f32 [N,P]
    OUT/onnx/text_model.onnx         input_ids i64 [N,T] (+ attention_mask i64 [N,T])
                                     -> text_embeds f32 [N,P]
    OUT/onnx/*_fp16.onnx, *_quantized.onnx   with --variants

Embeddings are the projection outputs of ClapAudioModelWithProjection /
ClapTextModelWithProjection and are NOT L2-normalised (same as Xenova's exports).

Sources of weights:
  --checkpoint DIR   a local Hugging Face checkpoint directory (config.json + weights,
                     tokenizer files). Nothing is downloaded.
  --random-init      ClapModel(ClapConfig()) (= laion/clap-htsat-unfused architecture) with
                     random weights drawn after torch.manual_seed(--seed); with --tiny a small
                     config (see TINY_* below) used for the committed test fixture.

Random-init weights are re-creatable: `build_random_model(tiny, seed)` in this file gives
bit-identical weights for the same torch/transformers versions (tests/golden/make_embed_golden.py
imports it, and checks the result against the committed ONNX files).

Examples:
  python models/export_clap.py --random-init --tiny --out tests/fixtures/tiny-clap --extra-nomask
  python models/export_clap.py --random-init --variants --out /work/models/clap-full
  python models/export_clap.py --checkpoint ~/ckpt/clap-htsat-unfused --variants --out out/
"""
import argparse
import copy
import json
import os
import platform
import shutil
import sys
import time

import numpy as np
import torch

import transformers
from transformers import (
    ClapAudioConfig,
    ClapAudioModelWithProjection,
    ClapConfig,
    ClapModel,
    ClapTextConfig,
    ClapTextModelWithProjection,
)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, ".."))

# laion/clap-htsat-unfused preprocessor_config.json (also in
# tests/fixtures/clap-htsat-unfused.preprocessor_config.json).
PREPROCESSOR_CONFIG = {
    "chunk_length_s": 10,
    "feature_extractor_type": "ClapFeatureExtractor",
    "feature_size": 64,
    "fft_window_size": 1024,
    "frequency_max": 14000,
    "frequency_min": 50,
    "hop_length": 480,
    "max_length_s": 10,
    "n_fft": 1024,
    "nb_frequency_bins": 513,
    "nb_max_frames": 1000,
    "nb_max_samples": 480000,
    "padding": "repeatpad",
    "padding_side": "right",
    "padding_value": 0.0,
    "processor_class": "ClapProcessor",
    "return_attention_mask": False,
    "sampling_rate": 48000,
    "top_db": None,
    "truncation": "rand_trunc",
}

# Small but structurally complete HTSAT (4 Swin stages, window 8, 1001x64 input) and RoBERTa.
TINY_AUDIO = dict(
    patch_embeds_hidden_size=8,  # stage widths 8, 16, 32, 64
    hidden_size=64,  # = patch_embeds_hidden_size * 2**(stages-1)
    depths=[1, 1, 1, 1],
    num_attention_heads=[1, 1, 2, 2],
    mlp_ratio=2.0,
)
TINY_TEXT = dict(
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=64,
    max_position_embeddings=514,
)
TINY_VOCAB = 1000
PROJECTION_DIM = 512  # keep the real joint-space width in the tiny fixture too

FRAMES, MELS = 1001, 64
T_EXAMPLE = 12


# --------------------------------------------------------------------------------------------
# tokenizer (random-init only; HF hub is not reachable)
# --------------------------------------------------------------------------------------------
_SOURCES = [
    "dog", "cat", "bird", "rooster", "cow", "horse", "sheep", "frog", "crow", "owl", "insects",
    "crickets", "bees", "car", "truck", "train", "airplane", "helicopter", "motorcycle", "siren",
    "engine", "door", "footsteps", "keyboard", "mouse click", "clock", "alarm", "bell", "church bell",
    "phone", "doorbell", "vacuum cleaner", "washing machine", "hair dryer", "toilet", "water tap",
    "rain", "thunder", "wind", "waves", "river", "stream", "fire", "crackling fire", "glass",
    "breaking glass", "chainsaw", "hammer", "saw", "drill", "gunshot", "fireworks", "explosion",
    "applause", "crowd", "laughter", "baby", "child", "man", "woman", "choir", "speech",
    "whisper", "cough", "sneeze", "snoring", "breathing", "heartbeat", "kick drum", "snare drum",
    "hi-hat", "cymbal", "tom", "clap", "bass", "guitar", "electric guitar", "piano", "organ",
    "violin", "cello", "flute", "trumpet", "saxophone", "synthesizer", "pad", "drone", "riser",
    "whoosh", "impact", "swoosh", "beep", "buzz", "hum", "static", "noise", "chirp", "sweep",
    "tone", "sine wave", "square wave", "laser", "robot", "spaceship", "ambience", "room tone",
]
_ACTIONS = [
    "barking", "meowing", "singing", "chirping", "crowing", "mooing", "neighing", "croaking",
    "buzzing", "passing by", "honking", "ringing", "beeping", "humming", "rumbling", "splashing",
    "dripping", "pouring", "crackling", "knocking", "slamming", "creaking", "tapping", "clicking",
    "ticking", "roaring", "whistling", "howling", "crashing", "shattering", "clapping", "laughing",
    "crying", "talking", "shouting", "playing", "strumming", "hitting", "rolling", "fading out",
    "fading in", "echoing", "looping", "starting", "stopping",
]
_PLACES = [
    "in a forest", "in the city", "on a busy street", "in a small room", "in a large hall",
    "in a church", "in a cave", "underwater", "at the beach", "in the kitchen", "in an office",
    "in a stadium", "at night", "in the morning", "far away", "close to the microphone",
    "on a tin roof", "in a park", "on a farm", "in a factory", "in a studio", "on a train platform",
]
_ADJ = [
    "loud", "quiet", "soft", "distant", "close", "short", "long", "deep", "bright", "dark",
    "warm", "harsh", "muffled", "reverberant", "dry", "distorted", "clean", "metallic", "wooden",
    "heavy", "light", "fast", "slow", "rhythmic", "steady", "intermittent", "high pitched",
    "low pitched", "electronic", "acoustic", "vintage", "modern", "cinematic", "ambient",
]
_TEMPLATES = [
    "a {adj} {src} {act} {place}",
    "This is a sound of {src}",
    "This is a sound of a {adj} {src}",
    "the sound of a {src} {act}",
    "{adj} {src} {act}",
    "a recording of {src} {place}",
    "This audio is a {adj} {src} song",
    "{src} and {src2} {place}",
    "someone {act} {place} while a {src} is heard",
    "A {adj}, {adj2} {src}: {act}!",
]


def sound_corpus():
    """Deterministic built-in corpus of English sound descriptions (no randomness)."""
    lines = []
    n = 0
    for i, src in enumerate(_SOURCES):
        for j, tpl in enumerate(_TEMPLATES):
            k = i * len(_TEMPLATES) + j
            lines.append(
                tpl.format(
                    adj=_ADJ[k % len(_ADJ)],
                    adj2=_ADJ[(k * 7 + 3) % len(_ADJ)],
                    src=src,
                    src2=_SOURCES[(k * 13 + 5) % len(_SOURCES)],
                    act=_ACTIONS[k % len(_ACTIONS)],
                    place=_PLACES[k % len(_PLACES)],
                )
            )
            n += 1
    lines += [
        "a dog barking", "rain on a tin roof", "This is a sound of a kick drum",
        "Numbers 0 1 2 3 4 5 6 7 8 9 10 100 120 bpm 440 Hz 48 kHz, 24-bit; (stereo) mono/5.1 "
        "\"quoted\" 'single' #tag @user & co. 50% off? yes - no _ + = * / \\ | ~ ^ $ < > [ ] { }",
        "Caf\u00e9 na\u00efve \u00fcber se\u00f1or \u65e5\u672c\u8a9e \U0001F3B5",
    ]
    return lines


def build_tokenizer(vocab_size):
    """RoBERTa-style byte-level BPE: <s>=0 <pad>=1 </s>=2 <unk>=3 ... <mask>=last."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE(unk_token=None))  # byte-level BPE never needs <unk>
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - 1,  # <mask> is appended afterwards
        min_frequency=1,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(sound_corpus(), trainer=trainer)
    tok.add_special_tokens(["<mask>"])
    tok.post_processor = processors.RobertaProcessing(
        ("</s>", tok.token_to_id("</s>")),
        ("<s>", tok.token_to_id("<s>")),
        trim_offsets=True,
        add_prefix_space=False,
    )
    ids = {t: tok.token_to_id(t) for t in ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]}
    assert ids["<s>"] == 0 and ids["<pad>"] == 1 and ids["</s>"] == 2 and ids["<unk>"] == 3, ids
    assert ids["<mask>"] == tok.get_vocab_size() - 1, ids
    return tok


def write_tokenizer_files(tok, out):
    tok.save(os.path.join(out, "tokenizer.json"))
    # vocab.json / merges.txt (the BPE model's own files), for tools that want them
    tok.model.save(out)
    with open(os.path.join(out, "tokenizer_config.json"), "w") as fh:
        json.dump(
            {
                "tokenizer_class": "RobertaTokenizer",
                "bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>", "cls_token": "<s>",
                "unk_token": "<unk>", "pad_token": "<pad>", "mask_token": "<mask>",
                "add_prefix_space": False, "errors": "replace", "model_max_length": 512,
                "note": "Synthetic byte-level BPE trained by models/export_clap.py on a small "
                        "built-in corpus; NOT the RoBERTa vocabulary.",
            },
            fh, indent=2,
        )
        fh.write("\n")


# --------------------------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------------------------
def tiny_config(vocab_size, projection_dim=PROJECTION_DIM):
    text = ClapTextConfig(vocab_size=vocab_size, projection_dim=projection_dim, **TINY_TEXT)
    audio = ClapAudioConfig(projection_dim=projection_dim, **TINY_AUDIO)
    return ClapConfig(text_config=text.to_dict(), audio_config=audio.to_dict(),
                      projection_dim=projection_dim)


def build_random_model(tiny, seed=0, vocab_size=None, projection_dim=PROJECTION_DIM):
    """ClapModel with seeded random weights. Deterministic for fixed torch/transformers."""
    if tiny:
        cfg = tiny_config(vocab_size if vocab_size is not None else TINY_VOCAB, projection_dim)
    else:
        cfg = ClapConfig()
    torch.manual_seed(seed)
    np.random.seed(seed)
    model = ClapModel(cfg)
    # Random init leaves BatchNorm running stats at mean 0 / var 1: give the audio
    # batch norm (applied to the 64 mel bins) stats in the range of real log-mel input so
    # that the tiny network sees O(1) activations (deterministic values, not random).
    bn = model.audio_model.audio_encoder.batch_norm
    with torch.no_grad():
        bn.running_mean.copy_(torch.linspace(-40.0, -20.0, bn.num_features))
        bn.running_var.copy_(torch.full((bn.num_features,), 400.0))
    model.eval()
    return model


def split_towers(model):
    """ClapModel -> (ClapAudioModelWithProjection, ClapTextModelWithProjection), same weights."""
    cfg = model.config
    audio = ClapAudioModelWithProjection(cfg.audio_config)
    text = ClapTextModelWithProjection(cfg.text_config)
    sd = model.state_dict()
    for tower, prefixes in ((audio, ("audio_model.", "audio_projection.")),
                            (text, ("text_model.", "text_projection."))):
        sub = {k: v for k, v in sd.items() if k.startswith(prefixes)}
        missing, unexpected = tower.load_state_dict(sub, strict=False)
        # position_ids/token_type_ids buffers may be non-persistent: nothing else may be missing
        missing = [m for m in missing if not m.endswith(("position_ids", "token_type_ids"))]
        assert not missing and not unexpected, (missing, unexpected)
        tower.eval()
    return audio, text


class AudioWrapper(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_features):
        return self.m(input_features=input_features).audio_embeds


class TextWrapper(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, attention_mask):
        return self.m(input_ids=input_ids, attention_mask=attention_mask).text_embeds


class TextWrapperNoMask(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids):
        return self.m(input_ids=input_ids).text_embeds


def export(module, args, path, input_names, output_names, dynamic_axes, opset):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    # A fresh wrapper is in training mode; torch.onnx.export restores the caller's mode
    # afterwards, which would switch dropout on in the wrapped towers. Keep everything in eval.
    module.eval()
    with torch.no_grad():
        torch.onnx.export(
            module, args, path, dynamo=False, opset_version=opset, do_constant_folding=True,
            input_names=input_names, output_names=output_names, dynamic_axes=dynamic_axes,
        )
    import onnx
    m = onnx.load(path)
    onnx.checker.check_model(m)
    # deterministic metadata
    m.producer_name, m.producer_version = "avx export_clap.py", ""
    onnx.save(m, path)
    return path


def ort_session(path, threads=1):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def example_ids(vocab, batch, T, seed=1):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(4, vocab - 1, (batch, T), generator=g)
    ids[:, 0] = 0
    ids[:, -1] = 2
    return ids


def example_features(batch, seed=2):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(batch, 1, FRAMES, MELS, generator=g) * 20.0 - 30.0).float()


def convert_fp16(src, dst):
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16
    m = onnx.load(src)
    m16 = convert_float_to_float16(m, keep_io_types=True, disable_shape_infer=False)
    onnx.save(m16, dst)


def quantize(src, dst, weight_type):
    from onnxruntime.quantization import QuantType, quantize_dynamic
    quantize_dynamic(src, dst, weight_type=getattr(QuantType, weight_type),
                     op_types_to_quantize=["MatMul", "Gemm", "Gather"])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="local HF checkpoint directory")
    src.add_argument("--random-init", action="store_true")
    ap.add_argument("--tiny", action="store_true", help="small config (random-init only)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--no-attention-mask", action="store_true",
                    help="text model takes only input_ids (like Xenova's export)")
    ap.add_argument("--extra-nomask", action="store_true",
                    help="also write onnx/text_model_nomask.onnx (input_ids only)")
    ap.add_argument("--variants", action="store_true", help="also write *_fp16 and *_quantized")
    ap.add_argument("--quant-type", default="QInt8", choices=["QInt8", "QUInt8"])
    ap.add_argument("--projection-dim", type=int, default=PROJECTION_DIM,
                    help="--tiny only: joint-space width (default 512, the real one; 128 makes "
                         "the fixture ~3.4 MB smaller)")
    ap.add_argument("--tokenizer-vocab", type=int, default=None,
                    help="random-init: BPE vocab size to train (tiny default 1000, full 8000)")
    ap.add_argument("--bench", action="store_true", help="time PyTorch vs ORT (batch 1)")
    ap.add_argument("--save-torch", action="store_true",
                    help="also save the ClapModel weights as pytorch_model.bin")
    args = ap.parse_args()
    if args.tiny and not args.random_init:
        ap.error("--tiny needs --random-init")

    import onnx
    import onnxruntime as ort
    import tokenizers
    print(f"python {platform.python_version()}  torch {torch.__version__}  transformers {transformers.__version__}"
          f"  onnx {onnx.__version__}  onnxruntime {ort.__version__}  tokenizers {tokenizers.__version__}"
          f"  numpy {np.__version__}")
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    torch.use_deterministic_algorithms(True)

    out = os.path.abspath(args.out)
    os.makedirs(os.path.join(out, "onnx"), exist_ok=True)

    # ---- model + tokenizer files
    if args.random_init:
        tvocab = args.tokenizer_vocab or (TINY_VOCAB if args.tiny else 8000)
        tok = build_tokenizer(tvocab)
        n_tok = tok.get_vocab_size()
        print(f"tokenizer: byte-level BPE, {n_tok} tokens (requested {tvocab})")
        model = build_random_model(args.tiny, args.seed, vocab_size=n_tok if args.tiny else None,
                                   projection_dim=args.projection_dim)
        if n_tok > model.config.text_config.vocab_size:
            sys.exit("tokenizer larger than model vocab")
        write_tokenizer_files(tok, out)
        with open(os.path.join(out, "preprocessor_config.json"), "w") as fh:
            json.dump(PREPROCESSOR_CONFIG, fh, indent=2)
            fh.write("\n")
    else:
        ck = os.path.abspath(args.checkpoint)
        model = ClapModel.from_pretrained(ck, local_files_only=True)
        model.eval()
        if os.path.exists(os.path.join(ck, "tokenizer.json")):
            shutil.copy(os.path.join(ck, "tokenizer.json"), out)
        else:
            from transformers import RobertaTokenizerFast
            RobertaTokenizerFast.from_pretrained(ck, local_files_only=True).save_pretrained(out)
        for f in ("tokenizer_config.json", "vocab.json", "merges.txt", "special_tokens_map.json"):
            if os.path.exists(os.path.join(ck, f)) and not os.path.exists(os.path.join(out, f)):
                shutil.copy(os.path.join(ck, f), out)
        pp = os.path.join(ck, "preprocessor_config.json")
        if os.path.exists(pp):
            shutil.copy(pp, out)
        else:
            print("WARNING: checkpoint has no preprocessor_config.json; writing clap-htsat-unfused's")
            with open(os.path.join(out, "preprocessor_config.json"), "w") as fh:
                json.dump(PREPROCESSOR_CONFIG, fh, indent=2)
                fh.write("\n")
        if model.config.audio_config.enable_fusion:
            print("WARNING: fused checkpoint; the export feeds no is_longer (fusion path not exported)")

    cfg = model.config.to_dict()
    cfg.pop("transformers_version", None)
    with open(os.path.join(out, "config.json"), "w") as fh:
        json.dump(cfg, fh, indent=2, sort_keys=True)
        fh.write("\n")
    if args.save_torch:
        torch.save(model.state_dict(), os.path.join(out, "pytorch_model.bin"))

    n_audio = sum(p.numel() for n, p in model.named_parameters() if n.startswith("audio_"))
    n_text = sum(p.numel() for n, p in model.named_parameters() if n.startswith("text_"))
    print(f"parameters: audio tower+proj {n_audio:,}  text tower+proj {n_text:,}")

    audio, text = split_towers(model)
    vocab = model.config.text_config.vocab_size
    pdim = model.config.projection_dim

    # ---- export
    feats = example_features(2)
    ids = example_ids(min(vocab, 1000), 2, T_EXAMPLE)
    mask = torch.ones_like(ids)
    onnx_dir = os.path.join(out, "onnx")
    paths = {}
    t0 = time.time()
    paths["audio"] = export(AudioWrapper(audio), (feats,), os.path.join(onnx_dir, "audio_model.onnx"),
                            ["input_features"], ["audio_embeds"],
                            {"input_features": {0: "batch_size"}, "audio_embeds": {0: "batch_size"}},
                            args.opset)
    print(f"exported audio_model.onnx in {time.time() - t0:.1f}s")
    t0 = time.time()
    text_variants = []
    if args.no_attention_mask:
        text_variants.append(("text", "text_model.onnx", False))
    else:
        text_variants.append(("text", "text_model.onnx", True))
    if args.extra_nomask:
        text_variants.append(("text_nomask", "text_model_nomask.onnx", False))
    for key, fname, with_mask in text_variants:
        if with_mask:
            paths[key] = export(TextWrapper(text), (ids, mask), os.path.join(onnx_dir, fname),
                                ["input_ids", "attention_mask"], ["text_embeds"],
                                {"input_ids": {0: "batch_size", 1: "sequence_length"},
                                 "attention_mask": {0: "batch_size", 1: "sequence_length"},
                                 "text_embeds": {0: "batch_size"}}, args.opset)
        else:
            paths[key] = export(TextWrapperNoMask(text), (ids,), os.path.join(onnx_dir, fname),
                                ["input_ids"], ["text_embeds"],
                                {"input_ids": {0: "batch_size", 1: "sequence_length"},
                                 "text_embeds": {0: "batch_size"}}, args.opset)
    print(f"exported text model(s) in {time.time() - t0:.1f}s")

    # ---- verify ORT vs PyTorch on inputs different from the tracing ones
    feats_v = example_features(3, seed=5)
    ids_v = example_ids(min(vocab, 1000), 3, 20, seed=6)
    mask_v = torch.ones_like(ids_v)
    # a padded row for the masked model: last 5 positions are <pad> with mask 0
    ids_pad = ids_v.clone()
    mask_pad = mask_v.clone()
    ids_pad[1, 15:] = 1
    ids_pad[1, 14] = 2
    mask_pad[1, 15:] = 0
    with torch.no_grad():
        ref_a = audio(input_features=feats_v).audio_embeds.numpy()
        ref_t = text(input_ids=ids_v, attention_mask=mask_v).text_embeds.numpy()
        ref_tp = text(input_ids=ids_pad, attention_mask=mask_pad).text_embeds.numpy()
    assert ref_a.shape == (3, pdim) and ref_t.shape == (3, pdim)
    s = ort_session(paths["audio"], 2)
    got = s.run(["audio_embeds"], {"input_features": feats_v.numpy()})[0]
    print(f"verify audio_model.onnx: max|ORT-PyTorch| = {np.abs(got - ref_a).max():.3e}"
          f"  (max|ref| {np.abs(ref_a).max():.3e})")
    for key, fname, with_mask in text_variants:
        s = ort_session(paths[key], 2)
        if with_mask:
            got = s.run(["text_embeds"], {"input_ids": ids_v.numpy(), "attention_mask": mask_v.numpy()})[0]
            gotp = s.run(["text_embeds"], {"input_ids": ids_pad.numpy(), "attention_mask": mask_pad.numpy()})[0]
            print(f"verify {fname}: max|ORT-PyTorch| = {np.abs(got - ref_t).max():.3e}, "
                  f"with padding+mask {np.abs(gotp - ref_tp).max():.3e}")
        else:
            got = s.run(["text_embeds"], {"input_ids": ids_v.numpy()})[0]
            print(f"verify {fname}: max|ORT-PyTorch| = {np.abs(got - ref_t).max():.3e}")

    # ---- variants
    if args.variants:
        def cos(a, b):
            a = a / np.linalg.norm(a, axis=-1, keepdims=True)
            b = b / np.linalg.norm(b, axis=-1, keepdims=True)
            return (a * b).sum(-1)
        for key, base in (("audio", "audio_model"), ("text", "text_model")):
            src_p = paths[key]
            for suffix in ("fp16", "quantized"):
                dst = os.path.join(onnx_dir, f"{base}_{suffix}.onnx")
                t0 = time.time()
                if suffix == "fp16":
                    convert_fp16(src_p, dst)
                else:
                    quantize(src_p, dst, args.quant_type)
                s = ort_session(dst, 2)
                if key == "audio":
                    got, ref = s.run(None, {"input_features": feats_v.numpy()})[0], ref_a
                else:
                    feed = {"input_ids": ids_v.numpy()}
                    if "attention_mask" in [i.name for i in s.get_inputs()]:
                        feed["attention_mask"] = mask_v.numpy()
                    got, ref = s.run(None, feed)[0], ref_t
                print(f"{os.path.basename(dst)}: {os.path.getsize(dst) / 1e6:.1f} MB, "
                      f"{time.time() - t0:.1f}s, max|diff| {np.abs(got - ref).max():.3e}, "
                      f"min cosine to PyTorch {cos(got, ref).min():.6f}")

    # ---- optional timing
    if args.bench:
        f1 = feats_v[:1]
        i1 = ids_v[:1, :12]
        with torch.no_grad():
            audio(input_features=f1)
            t0 = time.time(); audio(input_features=f1); ta = time.time() - t0
            text(input_ids=i1, attention_mask=torch.ones_like(i1))
            t0 = time.time(); text(input_ids=i1, attention_mask=torch.ones_like(i1)); tt = time.time() - t0
        print(f"PyTorch ({torch.get_num_threads()} threads): audio window {ta:.3f}s, text 12 tokens {tt:.3f}s")
        for name in sorted(os.listdir(onnx_dir)):
            p = os.path.join(onnx_dir, name)
            s = ort_session(p, 2)
            names = [i.name for i in s.get_inputs()]
            if "input_features" in names:
                feed = {"input_features": f1.numpy()}
            else:
                feed = {"input_ids": i1.numpy()}
                if "attention_mask" in names:
                    feed["attention_mask"] = np.ones_like(i1.numpy())
            s.run(None, feed)
            reps = 3
            t0 = time.time()
            for _ in range(reps):
                s.run(None, feed)
            print(f"ORT 2 threads {name}: {(time.time() - t0) / reps:.3f}s per call (batch 1)")

    total = 0
    for dp, _, fs in os.walk(out):
        for f in fs:
            total += os.path.getsize(os.path.join(dp, f))
    print(f"wrote {out} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
