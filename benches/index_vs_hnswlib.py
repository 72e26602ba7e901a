#!/usr/bin/env python3
"""Summarises interleaved runs of `benches/index.rs` (report mode) and `benches/hnswlib_compare.py` at equal recall.

    python benches/index_vs_hnswlib.py LOGDIR [--plot docs/img/recall.png [--title "what the vectors are"]]

LOGDIR holds `avx-<i>.log` and `hnswlib-<i>.log` for runs i = 1, 2, ... (as `benches/index_vs_hnswlib.sh`
writes them). For each run and each side, p50 and p99 at recall@10 0.95 and 0.99 are interpolated linearly in
recall between the two beam widths (ef) that bracket it; the table shows the median over the runs, and the
build throughput (wall and CPU seconds). Matplotlib is needed only for `--plot`.
"""

import argparse
import glob
import os
import re
import statistics

EF = re.compile(r"(?:hnswlib )?(?:graph )?ef=(\d+): p50 ([\d.]+) ms, p99 ([\d.]+) ms, recall@10 ([\d.]+)")
AVX_BUILD = re.compile(r"build: graph ([\d.]+) s \((\d+) vectors/s, (\d+) threads, ([\d.]+) s CPU\).*check_ms: (\d+)")
HNSW_BUILD = re.compile(r"hnswlib build: ([\d.]+) s \((\d+) vectors/s, (\d+) threads, ([\d.]+) s CPU\)")
OPEN = re.compile(r"open: ([\d.]+) ms.*?RSS after (?:the first )?open ([\d.]+) MiB \(([\d.]+)x")


def parse(path):
    text = open(path).read()
    curve = [(int(e), float(p50), float(p99), float(r)) for e, p50, p99, r in EF.findall(text)]
    build = AVX_BUILD.search(text) or HNSW_BUILD.search(text)
    opened = OPEN.search(text)
    return {
        "curve": sorted(curve),
        "build_s": float(build.group(1)) if build else None,
        "build_vps": int(build.group(2)) if build else None,
        "build_cpu": float(build.group(4)) if build else None,
        "check_ms": int(build.group(5)) if build and build.re is AVX_BUILD else None,
        "open_ms": float(opened.group(1)) if opened else None,
        "rss_x": float(opened.group(3)) if opened else None,
    }


def at_recall(curve, target):
    """(p50, p99) at `target` recall, interpolated; None when no beam reaches it."""
    prev = None
    for ef, p50, p99, r in curve:
        if r >= target:
            if prev is None or prev[3] >= r:
                return p50, p99
            t = (target - prev[3]) / (r - prev[3])
            return prev[1] + t * (p50 - prev[1]), prev[2] + t * (p99 - prev[2])
        prev = (ef, p50, p99, r)
    return None


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("logdir")
    ap.add_argument("--plot", help="write a recall/latency plot (PNG) here")
    ap.add_argument("--title", default="same vectors", help="what the plot's vectors are (its title)")
    a = ap.parse_args()
    runs = sorted(int(re.search(r"(\d+)\.log$", p).group(1)) for p in glob.glob(os.path.join(a.logdir, "avx-*.log")))
    sides = {}
    for side in ["avx", "hnswlib"]:
        sides[side] = [parse(os.path.join(a.logdir, f"{side}-{i}.log")) for i in runs
                       if os.path.exists(os.path.join(a.logdir, f"{side}-{i}.log"))]
    print(f"runs: {len(runs)} (median shown)")
    fmt = lambda x, f="{:.3f}": "n/a" if x is None else f.format(x)  # noqa: E731
    res = {}
    for side, rs in sides.items():
        row = {
            "build_vps": median([r["build_vps"] for r in rs]),
            "build_s": median([r["build_s"] for r in rs]),
            "build_cpu": median([r["build_cpu"] for r in rs]),
            "check_ms": median([r["check_ms"] for r in rs]),
            "open_ms": median([r["open_ms"] for r in rs]),
            "rss_x": median([r["rss_x"] for r in rs]),
        }
        for target in (0.95, 0.99):
            pts = [at_recall(r["curve"], target) for r in rs]
            row[f"p50@{target}"] = median([p[0] for p in pts if p])
            row[f"p99@{target}"] = median([p[1] for p in pts if p])
        res[side] = row
    print("| | build vectors/s (wall s, CPU s) | p50 / p99 ms at recall 0.95 | p50 / p99 ms at recall 0.99 | open ms | RSS after open |")
    print("|---|---|---|---|---|---|")
    for side, row in res.items():
        print(
            f"| {side} | {fmt(row['build_vps'], '{:.0f}')} ({fmt(row['build_s'], '{:.1f}')}, {fmt(row['build_cpu'], '{:.1f}')})"
            f" | {fmt(row['p50@0.95'])} / {fmt(row['p99@0.95'])} | {fmt(row['p50@0.99'])} / {fmt(row['p99@0.99'])}"
            f" | {fmt(row['open_ms'], '{:.1f}')} | {fmt(row['rss_x'], '{:.2f}x')} |"
        )
    av, hn = res["avx"], res["hnswlib"]
    ratio = lambda x, y: "n/a" if x is None or y is None or y == 0 else f"{x / y:.2f}"  # noqa: E731
    print(
        f"avx / hnswlib: build throughput {ratio(av['build_vps'], hn['build_vps'])}x; "
        f"p50 at 0.95 {ratio(av['p50@0.95'], hn['p50@0.95'])}x, p99 {ratio(av['p99@0.95'], hn['p99@0.95'])}x; "
        f"p50 at 0.99 {ratio(av['p50@0.99'], hn['p50@0.99'])}x, p99 {ratio(av['p99@0.99'], hn['p99@0.99'])}x "
        f"(below 1 means avx is faster on latency); avx check+repair {fmt(av['check_ms'], '{:.0f}')} ms "
        f"of {fmt(av['build_s'], '{:.1f}')} s"
    )
    for side, rs in sides.items():
        for i, r in enumerate(rs, 1):
            print(f"{side} run {i}: " + ", ".join(f"ef {e}: {p:.3f} ms @ {rc:.4f}" for e, p, _, rc in r["curve"]))
    if a.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        for side, rs in sides.items():
            if not rs:
                continue
            curve = rs[len(rs) // 2]["curve"]
            ax.plot([c[3] for c in curve], [c[1] for c in curve], marker="o", label=f"{side} p50")
            ax.plot([c[3] for c in curve], [c[2] for c in curve], marker="x", linestyle=":", label=f"{side} p99")
        ax.set_xlabel("recall@10")
        ax.set_ylabel("latency per query, ms (1 thread)")
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        n_runs = max(len(rs) for rs in sides.values())
        ax.set_title(f"avx graph vs hnswlib, {a.title}, run {n_runs // 2 + 1} of {n_runs}")
        fig.tight_layout()
        fig.savefig(a.plot, dpi=110)
        print(f"wrote {a.plot}")


if __name__ == "__main__":
    main()
