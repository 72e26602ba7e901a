#!/usr/bin/env python3
"""Real window vectors for the index benches: `avx export --format jsonl --segments` output to the raw f32
layout of `benches/index.rs` (`AVX_BENCH_EXPORT` / `AVX_BENCH_VECTORS`).

    python benches/real_set.py EMBEDDINGS.jsonl OUTDIR [--queries 1000] [--per-file 10] [--seed 19]

Writes OUTDIR/vectors.f32 (the build set) and OUTDIR/queries.f32 (held out), little-endian f32 rows of the
index's dimension, each row L2-normalised, and OUTDIR/set.json (counts, the held-out files). The queries are
windows of whole files held out of the build set: files are drawn at random (seeded) and up to `--per-file`
windows of each, evenly spaced, become queries until there are `--queries`; every window of a drawn file is
left out of the build set, so a query never has its own overlapping neighbour windows in the index (a sound
the index has not seen, as `avx similar` on a new file). Byte-identical vectors (silence, the same sample
shipped by two packages) are kept once in the build set, so that exact ties do not decide recall@10.

Needs numpy. Run by `benches/real_set.sh`; not by CI.
"""

import argparse
import json
import os
import random

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("jsonl", help="avx export --format jsonl --segments output")
    ap.add_argument("out")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--per-file", type=int, default=10)
    ap.add_argument("--seed", type=int, default=19)
    a = ap.parse_args()

    files = []
    with open(a.jsonl) as f:
        for line in f:
            o = json.loads(line)
            w = [x["embedding"] for x in o.get("windows") or []]
            if w:
                files.append((o["path"], np.asarray(w, dtype=np.float32)))
    if not files:
        raise SystemExit(f"{a.jsonl}: no windows (index with `avx index ... --hop S` and export with --segments)")
    dim = files[0][1].shape[1]
    order = list(range(len(files)))
    random.Random(a.seed).shuffle(order)
    held, queries = set(), []
    for i in order:
        if len(queries) >= a.queries:
            break
        w = files[i][1]
        take = min(a.per_file, len(w), a.queries - len(queries))
        picks = np.linspace(0, len(w) - 1, take).round().astype(int)
        queries.extend(w[picks])
        held.add(i)
    build = np.concatenate([files[i][1] for i in range(len(files)) if i not in held])
    total = len(build)
    build = np.unique(build, axis=0)  # sorted rows: shuffle back so that row order carries no structure
    np.random.default_rng(a.seed).shuffle(build)
    queries = np.asarray(queries, dtype=np.float32)

    def unit(x):
        return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)).astype("<f4")

    os.makedirs(a.out, exist_ok=True)
    unit(build).tofile(os.path.join(a.out, "vectors.f32"))
    unit(queries).tofile(os.path.join(a.out, "queries.f32"))
    info = {
        "dim": dim,
        "files": len(files),
        "windows": int(sum(len(w) for _, w in files)),
        "build_vectors": len(build),
        "duplicates_dropped": total - len(build),
        "queries": len(queries),
        "query_files": sorted(str(files[i][0]) for i in held),
        "seed": a.seed,
    }
    with open(os.path.join(a.out, "set.json"), "w") as f:
        json.dump(info, f, indent=1)
    print(
        f"{info['files']} files, {info['windows']} windows: {len(build)} build vectors "
        f"({info['duplicates_dropped']} duplicates dropped), {len(queries)} queries from {len(held)} held-out "
        f"files, dimension {dim}, in {a.out}"
    )


if __name__ == "__main__":
    main()
