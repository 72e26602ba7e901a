#!/usr/bin/env python3
"""aiSFX evaluation of avx on real sample libraries, through the real CLI (see eval/README.md).

Steps (each writes JSON under --work and prints a Markdown table):

  parity      avx embed vs the aisfx package's Python pipeline on the 165 sonic-pi .flac files
  retrieval   leave-one-out retrieval: avx index, then avx similar --json -k 11 for every file
              (sonic-pi-samples, 14 classes; hydrogen-drumkits, 6 classes from drumkit.xml names), beside the
              mean-log-mel baseline
  dupes       near-duplicates: 7 transforms of 100 files + look-alike negatives, avx dupes --json over thresholds
  cluster     adjusted Rand index of avx cluster -k <classes> --json, beside k-means on the baseline vectors

Usage: eval/run_eval.py --avx target/release/avx --model-dir DIR [--work /tmp/avx-eval] [STEP...]
Needs: Python 3 with numpy, librosa, onnxruntime (for the reference/baseline); sox, ffmpeg with libmp3lame.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import metrics as M  # noqa: E402

SONICPI = "/usr/share/sonic-pi/samples"
HYDROGEN = "/usr/share/hydrogen/data/drumkits"
TRANSFORMS = ["mp3_128k", "resample_22k", "gain_-6dB", "trim_100ms", "mono_fold", "stretch_5pct", "pitch_+1st"]


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(map(str, cmd))}: exit {r.returncode}\n{r.stderr[-2000:]}")
    return r


def jsonl(text):
    return [json.loads(l) for l in text.splitlines() if l.strip()]


class Avx:
    def __init__(self, exe, model_dir, index):
        self.exe, self.model_dir, self.index = exe, model_dir, index

    def __call__(self, *args):
        return run([self.exe, "--index", self.index, "--model-dir", self.model_dir, "--threads", "1", "--json",
                    "--quiet", *args])


# ---------------------------------------------------------------- datasets

def sonicpi_files():
    files = sorted(os.path.join(SONICPI, f) for f in os.listdir(SONICPI) if f.endswith(".flac"))
    return files, [os.path.basename(f).split("_")[0] for f in files]


def drum_class(name):
    n = name.lower()
    if re.search(r"kick|bass ?drum|\bbd\b", n):
        return "kick"
    if re.search(r"snare|\bsn\b", n):
        return "snare"
    if re.search(r"hh|hat", n):
        return "hi-hat"
    if re.search(r"tom", n):
        return "tom"
    if re.search(r"crash|ride|splash|china|cymbal|\bcym", n):
        return "cymbal"
    return "other"


def hydrogen_entries():
    """(kit, instrument name, class, layer file path) for every layer of every instrument of every kit."""
    out, seen = [], set()
    for kit in sorted(os.listdir(HYDROGEN)):
        x = os.path.join(HYDROGEN, kit, "drumkit.xml")
        if not os.path.isfile(x):
            continue
        root = ET.parse(x).getroot()
        for inst in root.findall(".//{*}instrument"):
            name = (inst.findtext("{*}name") or "").strip()
            for fn in inst.findall(".//{*}filename"):
                p = os.path.join(HYDROGEN, kit, (fn.text or "").strip())
                if fn.text and os.path.isfile(p) and p not in seen:
                    seen.add(p)
                    out.append((kit, name, drum_class(name), p))
    return out


def stage(files, dest):
    """Copies files into dest (flat, unique names); returns the staged paths."""
    os.makedirs(dest, exist_ok=True)
    out = []
    for i, f in enumerate(files):
        d = os.path.join(dest, f"{i:04d}_{os.path.basename(f)}".replace(" ", "_"))
        if not os.path.exists(d):
            shutil.copyfile(f, d)
        out.append(os.path.realpath(d))
    return out


def dataset(name, work):
    if name == "sonicpi":
        files, labels = sonicpi_files()
        staged = stage(files, os.path.join(work, "data", "sonicpi"))
        # staged names carry a numeric prefix: labels come from the original names.
        return staged, labels
    entries = hydrogen_entries()
    staged = stage([e[3] for e in entries], os.path.join(work, "data", "hydrogen"))
    return staged, [e[2] for e in entries]


def reference(paths, out, work):
    """Python vectors (aisfx pipeline) and mean-log-mel baselines, cached."""
    if not os.path.exists(out):
        run([sys.executable, os.path.join(HERE, "aisfx_reference.py"), "--out", out, *paths])
    rows = {r["path"]: r for r in map(json.loads, open(out))}
    return [rows[p] for p in paths]


def index(avx, paths_root):
    if not os.path.exists(os.path.join(avx.index, "meta.redb")):
        r = avx("index", "--graph", paths_root)  # approximate search on: build the graph at any size
        return jsonl(r.stdout)
    return []


# ---------------------------------------------------------------- steps

def step_parity(a, avx_exe):
    files, _ = sonicpi_files()
    ref = reference(files, os.path.join(a.work, "ref_sonicpi_orig.jsonl"), a.work)
    r = run([avx_exe, "--model-dir", a.model_dir, "--threads", "1", "--json", "embed", *files])
    got = {e["path"]: e for e in jsonl(r.stdout) if e.get("type") == "embedding"}
    cos = []
    for rr in ref:
        g = got[os.path.realpath(rr["path"])] if os.path.realpath(rr["path"]) in got else got[rr["path"]]
        v, w = np.array(g["vector"]), np.array(rr["vector"])
        cos.append(float(v @ w / np.linalg.norm(v) / np.linalg.norm(w)))
    cos = np.array(cos)
    res = {"files": len(cos), "min": float(cos.min()), "median": float(np.median(cos)),
           "mean": float(cos.mean()), "below_0.999": int((cos < 0.999).sum()),
           "worst": os.path.basename(ref[int(cos.argmin())]["path"])}
    print(f"| files | min cosine | median cosine | below 0.999 | worst file |\n|---|---|---|---|---|\n"
          f"| {res['files']} | {res['min']:.6f} | {res['median']:.6f} | {res['below_0.999']} | {res['worst']} |")
    return res


def avx_rankings(avx, paths):
    pos = {p: i for i, p in enumerate(paths)}
    ranks = []
    for p in paths:
        hits = [h for h in jsonl(avx("similar", p, "-k", "11", "--approximate").stdout) if h.get("type") == "hit"]
        ranks.append([pos[h["path"]] for h in hits if h["path"] in pos and h["path"] != p])
    return ranks


def fmt(r):
    return f"{r['1nn']:.3f} | {r['p@5']:.3f} | {r['p@10']:.3f} | {r['map']:.3f}"


def step_retrieval(a, avx_exe):
    out = {}
    print("| data set | files | classes | method | 1-NN | P@5 | P@10 | mAP@10 |\n|---|---|---|---|---|---|---|---|")
    for ds in ("sonicpi", "hydrogen"):
        paths, labels = dataset(ds, a.work)
        avx = Avx(avx_exe, a.model_dir, os.path.join(a.work, f"index_{ds}"))
        index(avx, os.path.dirname(paths[0]))
        ranks = avx_rankings(avx, paths)
        ref = reference(paths, os.path.join(a.work, f"ref_{ds}.jsonl"), a.work)
        base = np.array([r["baseline"] for r in ref])
        pyv = np.array([r["vector"] for r in ref])
        top10 = lambda rk: [r[:10] for r in rk]
        res = {
            "avx aiSFX (avx index + avx similar -k 11)": M.loo_from_rankings(labels, ranks, ap_at=10),
            "Python aiSFX reference (exact, same top 10)": M.loo_from_rankings(labels, top10(M.exact_rankings(pyv)), ap_at=10),
            "mean-log-mel baseline (cosine)": M.loo_from_rankings(labels, top10(M.exact_rankings(base)), ap_at=10),
        }
        for k, v in res.items():
            print(f"| {ds} | {len(paths)} | {len(set(labels))} | {k} | {fmt(v)} |")
        out[ds] = res
    return out


def transform(src, t, dst_dir):
    base = os.path.splitext(os.path.basename(src))[0]
    ext = ".mp3" if t == "mp3_128k" else ".wav"
    d = os.path.join(dst_dir, f"{base}__{t}{ext}")
    if os.path.exists(d):
        return d
    sox = {
        "resample_22k": ["rate", "-v", "22050", "rate", "-v", "44100"],
        "gain_-6dB": ["gain", "-6"],
        "trim_100ms": ["trim", "0.1"],
        "mono_fold": ["remix", "-"],
        "stretch_5pct": ["tempo", "1.05"],
        "pitch_+1st": ["pitch", "100"],
    }
    if t == "mp3_128k":
        run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", src, "-c:a", "libmp3lame", "-b:a", "128k", d])
    else:
        run(["sox", "-D", src, "-b", "16", d, *sox[t]])
    return d


def duration(p):
    return float(run(["soxi", "-D", p]).stdout.strip())


def step_dupes(a, avx_exe):
    work = os.path.join(a.work, "dupes")
    files, _ = sonicpi_files()
    # Originals: the 100 longest-enough files, stereo first (so the mono fold is a real transform for most).
    info = [(f, duration(f), int(run(["soxi", "-c", f]).stdout.strip())) for f in files]
    cand = [x for x in info if x[1] >= 0.5]
    cand.sort(key=lambda x: (x[2] != 2, x[0]))
    originals = sorted(x[0] for x in cand[:100])
    src_dir = os.path.join(work, "files")
    staged = stage(originals, os.path.join(src_dir, "orig"))
    source = {p: i for i, p in enumerate(staged)}
    kind = {p: "original" for p in staged}
    tdir = os.path.join(src_dir, "transformed")
    os.makedirs(tdir, exist_ok=True)
    for i, p in enumerate(staged):
        for t in TRANSFORMS:
            d = os.path.realpath(transform(p, t, tdir))
            source[d], kind[d] = i, t
    # Negatives: other sonic-pi files (same classes, different sounds) and hydrogen velocity layers / takes of the
    # same instrument (two snares, two hits of one drum): every one its own source.
    rest = [f for f in files if f not in originals]
    by_inst = {}
    for kit, name, cls, p in hydrogen_entries():
        by_inst.setdefault((kit, name), []).append(p)
    layers = [ps[:3] for ps in by_inst.values() if len(ps) >= 2][:40]
    neg = stage(rest + [p for ps in layers for p in ps], os.path.join(src_dir, "negatives"))
    for j, p in enumerate(neg):
        source[p], kind[p] = 1000 + j, "negative"
    avx = Avx(avx_exe, a.model_dir, os.path.join(a.work, "index_dupes"))
    index(avx, src_dir)
    thresholds = [0.90, 0.92, 0.94, 0.95, 0.96, 0.97, 0.98, 0.985, 0.99, 0.995]
    n_orig = len(staged)
    table = {}
    for th in thresholds:
        groups = [g for g in jsonl(avx("dupes", "--threshold", str(th)).stdout) if g.get("type") == "group"]
        pairs = set()
        for g in groups:
            ms = [m["path"] for m in g["members"]]
            for x in range(len(ms)):
                for y in range(x + 1, len(ms)):
                    pairs.add(tuple(sorted((ms[x], ms[y]))))
        row = {}
        for t in TRANSFORMS:
            found = tp = fp = 0
            for x, y in pairs:
                kx, ky = kind.get(x), kind.get(y)
                if t not in (kx, ky):
                    continue
                other = x if ky == t else y
                if kind.get(other) == t and kx == ky:
                    continue  # two copies by the same transform: not this transform's question
                if source[x] == source[y]:
                    tp += kind.get(other) == "original"
                else:
                    fp += 1
            found = sum(1 for p, k in kind.items() if k == t and tuple(sorted((p, staged[source[p]]))) in pairs)
            row[t] = {"recall": found / n_orig, "precision": tp / (tp + fp) if tp + fp else 1.0, "fp": fp}
        same = sum(1 for x, y in pairs if source[x] == source[y])
        row["all"] = {"pairs": len(pairs), "precision": same / len(pairs) if pairs else 1.0,
                      "false_pairs": len(pairs) - same}
        table[str(th)] = row
    hdr = " | ".join(f"{t} R / P" for t in TRANSFORMS)
    print(f"| threshold | {hdr} | all pairs: precision (false pairs) |\n|---|" + "---|" * (len(TRANSFORMS) + 1))
    for th, row in table.items():
        cells = " | ".join(f"{row[t]['recall']:.2f} / {row[t]['precision']:.2f}" for t in TRANSFORMS)
        print(f"| {th} | {cells} | {row['all']['precision']:.3f} ({row['all']['false_pairs']}) |")
    return {"originals": n_orig, "negatives": len(neg), "files": len(kind), "table": table}


def step_cluster(a, avx_exe):
    out = {}
    print("| data set | k | avx cluster (aiSFX), ARI mean over seeds 0-4 | numpy k-means on avx aiSFX vectors | "
          "numpy k-means on mean-log-mel baseline |\n|---|---|---|---|---|")
    for ds in ("sonicpi", "hydrogen"):
        paths, labels = dataset(ds, a.work)
        k = len(set(labels))
        avx = Avx(avx_exe, a.model_dir, os.path.join(a.work, f"index_{ds}"))
        index(avx, os.path.dirname(paths[0]))
        pos = {p: i for i, p in enumerate(paths)}
        aris = []
        for seed in range(5):
            pred = [None] * len(paths)
            for c in jsonl(avx("cluster", "-k", str(k), "--seed", str(seed)).stdout):
                if c.get("type") == "cluster":
                    for m in c["members"]:
                        pred[pos[m["path"]]] = c["cluster"]
            aris.append(M.ari(labels, pred))
        ref = reference(paths, os.path.join(a.work, f"ref_{ds}.jsonl"), a.work)
        pyv = np.array([r["vector"] for r in ref])
        base = np.array([r["baseline"] for r in ref])
        a_np = np.mean([M.ari(labels, list(M.kmeans(pyv, k, seed=s))) for s in range(5)])
        b_np = np.mean([M.ari(labels, list(M.kmeans(base, k, seed=s))) for s in range(5)])
        out[ds] = {"k": k, "avx_ari": float(np.mean(aris)), "avx_ari_seeds": aris,
                   "numpy_kmeans_aisfx": float(a_np), "numpy_kmeans_baseline": float(b_np)}
        print(f"| {ds} | {k} | {np.mean(aris):.3f} (min {min(aris):.3f}, max {max(aris):.3f}) | {a_np:.3f} | {b_np:.3f} |")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--avx", default=os.path.join(HERE, "..", "target", "release", "avx"))
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--work", default="/tmp/avx-eval")
    ap.add_argument("steps", nargs="*", default=["parity", "retrieval", "dupes", "cluster"])
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    exe = os.path.abspath(a.avx)
    results_path = os.path.join(a.work, "results.json")
    results = json.load(open(results_path)) if os.path.exists(results_path) else {}
    for s in a.steps:
        print(f"\n## {s}\n", flush=True)
        results[s] = globals()[f"step_{s}"](a, exe)
        json.dump(results, open(results_path, "w"), indent=1)


if __name__ == "__main__":
    main()
