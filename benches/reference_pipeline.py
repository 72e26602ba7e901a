#!/usr/bin/env python3
"""The reference pipeline avx is compared with: librosa load at 48 kHz + transformers' ClapFeatureExtractor +
ClapModel (PyTorch), on the same kind of files as benches/pipeline.rs (N ten-second 44.1 kHz stereo WAVs).

    python benches/reference_pipeline.py MODEL_DIR [N_FILES] [THREADS]

MODEL_DIR is the full-size export of models/export_clap.py (it holds config.json; the PyTorch weights are
re-created from the same config with random values, as speed does not depend on them). Prints s/window.
"""
import sys, time, tempfile, os
import numpy as np, soundfile as sf, librosa, torch
from transformers import ClapConfig, ClapModel, ClapFeatureExtractor

model_dir = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 50
threads = int(sys.argv[3]) if len(sys.argv) > 3 else os.cpu_count()
torch.set_num_threads(threads)
cfg = ClapConfig.from_pretrained(model_dir)
model = ClapModel(cfg).eval()
fe = ClapFeatureExtractor(feature_size=64, sampling_rate=48000, hop_length=480, max_length_s=10,
                          fft_window_size=1024, padding_value=0.0, return_attention_mask=False,
                          frequency_min=50, frequency_max=14000, top_db=None, truncation="rand_trunc",
                          padding="repeatpad")
tmp = tempfile.mkdtemp()
rng = np.random.default_rng(0)
files = []
for i in range(n):
    t = np.arange(441000) / 44100
    x = 0.3 * np.sin(2 * np.pi * (110 + 37 * i) * t) + 0.1 * rng.standard_normal(t.size)
    p = os.path.join(tmp, f"f{i:03}.wav")
    sf.write(p, np.stack([x, x], 1).astype(np.float32), 44100, subtype="PCM_16")
    files.append(p)
with torch.no_grad():
    start = time.time()
    front = 0.0
    for p in files:
        t0 = time.time()
        y, _ = librosa.load(p, sr=48000, mono=True)
        feats = fe(y, sampling_rate=48000, return_tensors="pt")["input_features"]
        front += time.time() - t0
        model.get_audio_features(input_features=feats)
    total = time.time() - start
print(f"reference (torch {torch.__version__}, {threads} threads): {n} files, {total / n:.3f} s/window end to end, "
      f"front end {front / n * 1000:.1f} ms/window")
