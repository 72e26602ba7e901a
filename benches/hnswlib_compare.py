#!/usr/bin/env python3
"""hnswlib and a NumPy brute-force scan on the vectors of `benches/index.rs`, for the comparison its report asks for.

    AVX_BENCH_N=100000 AVX_BENCH_REPORT_ONLY=1 AVX_BENCH_EXPORT=/tmp/vecs \\
        cargo bench -p avx-index --bench index          # avx's figures, and the export
    python benches/hnswlib_compare.py /tmp/vecs --dim 512  # hnswlib's and brute force's, same vectors and queries

Same construction parameters as avx's graph (M=16, ef_construction=200, inner product on unit vectors), built on
all cores; queries on one thread, one query per call, as in the Rust report. Recall@10 is measured against the
exact top 10 (a matrix product over every vector). "open" is `load_index` of the saved file in a fresh
process, and RSS after open is that process's RSS less its RSS before loading (Python and NumPy).

Needs `pip install hnswlib numpy`. Not run by CI.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

# One BLAS thread for the brute-force latency, as avx's exact scan is timed on one thread.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402


def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def open_child(path, dim, n):
    """Runs in a fresh process: load the saved index, print seconds and RSS growth in KiB."""
    import hnswlib

    before = rss_kib()
    t = time.perf_counter()
    ix = hnswlib.Index(space="ip", dim=dim)
    ix.load_index(path, max_elements=n)
    dt = time.perf_counter() - t
    print(dt, rss_kib() - before)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir", help="AVX_BENCH_EXPORT directory (vectors.f32, queries.f32)")
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--m", type=int, default=16)
    ap.add_argument("--ef-construction", type=int, default=200)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--open-child", nargs=2, metavar=("PATH", "N"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.open_child:
        open_child(a.open_child[0], a.dim, int(a.open_child[1]))
        return

    import hnswlib

    x = np.fromfile(os.path.join(a.dir, "vectors.f32"), dtype="<f4").reshape(-1, a.dim)
    q = np.fromfile(os.path.join(a.dir, "queries.f32"), dtype="<f4").reshape(-1, a.dim)
    n = len(x)
    print(f"{n} vectors, {len(q)} queries, dim {a.dim}")

    # Ground truth: exact top 10 by inner product.
    truth = []
    for s in range(0, len(q), 100):
        sims = q[s : s + 100] @ x.T
        top = np.argpartition(-sims, 10, axis=1)[:, :10]
        truth.extend(set(t) for t in top)

    # Brute force, one query at a time, one thread.
    lat = []
    for qi in q[:50]:
        t = time.perf_counter()
        sims = x @ qi
        np.argpartition(-sims, 10)[:10]
        lat.append(time.perf_counter() - t)
    print(f"numpy brute force (1 thread): p50 {np.median(lat) * 1e3:.2f} ms over {n} rows")

    ix = hnswlib.Index(space="ip", dim=a.dim)
    ix.init_index(max_elements=n, M=a.m, ef_construction=a.ef_construction, random_seed=100)
    t, cpu = time.perf_counter(), time.process_time()
    ix.add_items(x, np.arange(n), num_threads=a.threads)
    build, cpu = time.perf_counter() - t, time.process_time() - cpu
    print(
        f"hnswlib build: {build:.1f} s ({n / build:.0f} vectors/s, {a.threads} threads, {cpu:.1f} s CPU), "
        f"M={a.m}, ef_construction={a.ef_construction}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "hnswlib.bin")
        ix.save_index(path)
        size = os.path.getsize(path)
        out = subprocess.run(
            [sys.executable, __file__, a.dir, "--dim", str(a.dim), "--open-child", path, str(n)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        opened, rss = float(out[0]), int(out[1])
    vec_bytes = n * a.dim * 4
    print(
        f"hnswlib open: {opened * 1e3:.1f} ms; RSS after open {rss / 1024:.1f} MiB "
        f"({rss * 1024 / vec_bytes:.2f}x the vectors); size on disk {size / 2**20:.1f} MiB"
    )

    ix.set_num_threads(1)
    for ef in [10, 16, 24, 32, 48, 64, 96, 128, 200, 300, 400, 600, 800]:  # benches/index.rs's EFS
        ix.set_ef(ef)
        lat, found = [], 0
        for qi, tr in zip(q, truth):
            t = time.perf_counter()
            labels, _ = ix.knn_query(qi, k=10)
            lat.append(time.perf_counter() - t)
            found += len(tr.intersection(labels[0]))
        lat = np.array(lat)
        print(
            f"hnswlib ef={ef}: p50 {np.percentile(lat, 50) * 1e3:.3f} ms, p99 {np.percentile(lat, 99) * 1e3:.3f} ms, "
            f"recall@10 {found / (10 * len(q)):.4f}"
        )


if __name__ == "__main__":
    main()
