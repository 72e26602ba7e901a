#!/usr/bin/env python3
"""Writes N short mono 16-bit WAV files (0.1 to 1 s, 16 kHz) for the peak-RSS measurement of `avx index` on a
large library (docs/performance.md): copies with variation: each a slice of one of 64 variants (gain, an added tone) of two
generated seconds (a decaying tone and noise), 1,000 files per folder. Standard library only.

    python3 benches/make_many.py DIR [N=50000]
"""

import math
import os
import random
import struct
import sys
import wave

RATE = 16_000


def main() -> None:
    out = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 50_000
    rng = random.Random(18)
    # 64 variants (gain, an added tone) of two generated seconds, as 16-bit bytes; each file is a slice of one.
    variants = []
    for _ in range(64):
        gain, tone = 0.2 + 0.8 * rng.random(), 100 + 2000 * rng.random()
        samples = (
            gain * (0.4 * math.sin(2 * math.pi * 220 * i / RATE) * math.exp(-3 * (i % RATE) / RATE) + 0.2 * (rng.random() - 0.5))
            + 0.1 * math.sin(2 * math.pi * tone * i / RATE)
            for i in range(2 * RATE)
        )
        variants.append(struct.pack(f"<{2 * RATE}h", *(int(32767 * max(-1.0, min(1.0, x))) for x in samples)))
    for k in range(n):
        folder = os.path.join(out, f"d{k // 1000:03d}")
        os.makedirs(folder, exist_ok=True)
        length = rng.randint(RATE // 10, RATE)
        start = rng.randint(0, 2 * RATE - length)
        data = rng.choice(variants)[2 * start : 2 * (start + length)]
        with wave.open(os.path.join(folder, f"s{k:05d}.wav"), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(RATE)
            w.writeframes(data)

if __name__ == "__main__":
    main()
