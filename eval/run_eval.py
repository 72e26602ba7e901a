#!/usr/bin/env python3
"""aiSFX evaluation of avx on real sample libraries, through the real CLI (see eval/README.md).

Steps (each writes JSON under --work and prints a Markdown table):

  parity      avx embed vs the aisfx package's Python pipeline on the 165 sonic-pi .flac files
  retrieval   leave-one-out retrieval: avx index, then avx similar --json -k 11 for every file
              (sonic-pi-samples, 14 classes; hydrogen-drumkits, 6 classes from drumkit.xml names), beside the
              mean-log-mel baseline
  dupes       near-duplicates: 26 edits of ~100 originals + look-alike negatives (eval/dupes_set.py), avx dupes --json
              at the defaults and over print thresholds and gates
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


def step_dupes(a, avx_exe):
    """Near-duplicates on the set of eval/dupes_set.py: per-edit recall and precision of `avx dupes` over print
    thresholds (default gate) and gates (default threshold), at the defaults first."""
    import dupes_set as D
    work = os.path.join(a.work, "dupes")
    meta, look, originals = D.build(work)
    index_dir = os.path.join(a.work, f"index_dupes_{a.family}")
    avx = Avx(avx_exe, a.model_dir, index_dir)
    index(avx, os.path.join(work, "files"))
    runs = [("default", [])] + [(f"threshold {t}", ["--threshold", str(t)]) for t in a.thresholds] + \
        [(f"gate {g}", ["--gate", str(g)]) for g in a.gates]
    table = {}
    for name, extra in runs:
        groups = [g for g in jsonl(avx("dupes", *extra).stdout) if g.get("type") == "group"]
        table[name] = D.score(groups, meta, look, originals)
        print(f"{name}: precision {table[name]['all']['precision']:.3f}, "
              f"look-alike pairs grouped {table[name]['all']['lookalike_false']}/{len(look)}", flush=True)
    edits = list(D.EDITS)
    print(f"\noriginals {len(originals)}, files {len(meta)}, look-alike pairs {len(look)}\n")
    print("| edit | " + " | ".join(table) + " |\n|---|" + "---|" * len(table))
    for t in edits:
        print(f"| {t} | " + " | ".join(f"{r[t]['recall']:.2f} / {r[t]['precision']:.2f}" for r in table.values())
              + " |")
    print("| all pairs: precision (false pairs) | " + " | ".join(
        f"{r['all']['precision']:.3f} ({r['all']['false_pairs']})" for r in table.values()) + " |")
    print("| look-alike pairs grouped | " + " | ".join(
        f"{r['all']['lookalike_false']} / {r['all']['lookalike_pairs']}" for r in table.values()) + " |")
    return {"family": a.family, "originals": len(originals), "files": len(meta), "lookalike_pairs": len(look),
            "table": table}


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
    ap.add_argument("--family", default="aisfx", help="names the dupes index (index_dupes_FAMILY)")
    ap.add_argument("--thresholds", type=float, nargs="*", default=[0.8, 0.85, 0.88, 0.92, 0.95])
    ap.add_argument("--gates", type=float, nargs="*", default=[0.6, 0.7, 0.9])
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
