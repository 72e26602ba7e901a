#!/usr/bin/env python3
"""Broadcast-archive evaluation of `avx recurring` and `avx timeline` (issue 17), through the real CLI.

Builds a synthetic radio archive from Debian packages, indexes it with the committed aiSFX model, runs
`avx recurring --json` once and `avx timeline --json --like ...` per programme, and prints Markdown tables.

Archive (seeded, reproducible): programmes of --min-minutes to --max-minutes, made of
  - speech: espeak-ng, six voices, sentences drawn from a word list (never repeated),
  - music: synthetic songs (sox: random chord progressions and melodies, never repeated),
  - motifs that recur at known offsets: idents and jingles from sound-theme-freedesktop and extremetuxracer-data
    (a 6.1 s ident also in a 3.0 s version), two adverts (a music excerpt + a fixed espeak-ng sentence), a
    presenter's sign-off (espeak-ng), and a 20 s music bed from extremetuxracer-data under changing speech
    (speech 12 dB below the bed). Each occurrence gets a random gain (0, -3 or -6 dB); a third of the
    idents/jingles are mixed over a quiet bed of unique music (-14 dB),
  - short silences (1 to 2 s).
A third of the programmes are re-encoded to MP3 at 64 kbit/s; the others are FLAC. All at 44.1 kHz mono.

Scores:
  recurring: occurrence recall and precision for motifs of 3 s or more (an occurrence counts when avx reports one
             in the same file whose start is within 1 s), start and end errors of the matched occurrences.
  timeline:  boundary error (each true boundary to the nearest reported one), and segment-label accuracy over
             time (every 0.1 s): truth classes speech / music / motif / silence; avx's class is `motif` for motif
             segments, `silence`, else the nearest --like example (a speech and a music clip not in the archive).

Usage: eval/archive/run.sh  (builds avx, then runs this with the defaults below)
       eval/archive/run_archive_eval.py --avx target/release/avx --work /tmp/avx-archive [--programmes 30]
Needs: sox, ffmpeg (libmp3lame), espeak-ng, sound-theme-freedesktop, extremetuxracer-data (Debian).
"""
import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time

RATE = 44100
FMT = ["-r", str(RATE), "-c", "1", "-b", "16", "-e", "signed-integer"]
SOX = ["sox", "-R", "-D", "-V1"]
FREEDESKTOP = "/usr/share/sounds/freedesktop/stereo"
ETR = "/usr/share/games/etr/music"
VOICES = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-gb-x-gbclan"]
WORDS = (
    "time year people way day man thing woman life child world school state family student group country "
    "problem hand part place case week company system program question work government number night point home "
    "water room mother area money story fact month lot right study book eye job word business issue side kind "
    "head house service friend father power hour game line end member law car city community name president "
    "team minute idea kid body information back parent face others level office door health person art war "
    "history party result change morning reason research girl guy moment air teacher force education weather "
    "river garden market bridge village harbour mountain station winter summer music radio evening council"
).split()
NOTES = [220.0 * 2 ** (i / 12) for i in range(0, 24)]


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def dur(path):
    return float(subprocess.run(["soxi", "-D", path], check=True, capture_output=True, text=True).stdout)


class Assets:
    def __init__(self, work, rng):
        self.dir = os.path.join(work, "assets")
        os.makedirs(self.dir, exist_ok=True)
        self.rng = rng
        self.n = 0

    def path(self, name):
        self.n += 1
        return os.path.join(self.dir, f"{self.n:05d}_{name}.wav")

    def fit(self, src, length, *effects):
        out = self.path("fit")
        sh(SOX + [src] + FMT + [out] + list(effects) + ["pad", "0", str(length), "trim", "0", str(length)])
        return out

    def speech(self, length, voice=None, text=None):
        voice = voice or self.rng.choice(VOICES)
        if text is None:
            words = int(length * 3.2) + 8
            text = " ".join(self.rng.choice(WORDS) for _ in range(words)) + "."
        raw = self.path("espeak")
        sh(["espeak-ng", "-v", voice, "-s", str(self.rng.randint(150, 185)), "-w", raw, text])
        # Long enough text; cut to the exact length.
        return self.fit(raw, length, "norm", "-4")

    def music(self, length):
        """A unique synthetic song: a chord every beat with a melody on top."""
        rng = self.rng
        beat = rng.uniform(0.35, 0.7)
        parts = []
        t = 0.0
        kinds = ["pluck", "sine", "triangle", "square", "sawtooth"]
        k1, k2 = rng.choice(kinds), rng.choice(kinds)
        while t < length + beat:
            root = rng.choice(NOTES[:12])
            chord = [root, root * 2 ** (rng.choice([3, 4]) / 12), root * 1.5]
            mel = rng.choice(NOTES[12:]) * 2
            p = self.path("beat")
            sh(SOX + ["-n"] + FMT + [p, "synth", f"{beat:.3f}"] + [x for f in chord for x in (k1, f"{f:.2f}")]
               + [k2, f"{mel:.2f}", "remix", "-", "fade", "0.01", f"{beat:.3f}", f"{beat / 3:.3f}", "norm", "-6"])
            parts.append(p)
            t += beat
        joined = self.path("song")
        sh(SOX + parts + [joined])
        for p in parts:
            os.remove(p)
        return self.fit(joined, length, "norm", "-3")

    def excerpt(self, src, start, length):
        out = self.path("excerpt")
        sh(SOX + [src] + FMT + [out, "trim", str(start), str(length), "norm", "-3"])
        return out

    def mix(self, a, b, gain_b_db, length):
        out = self.path("mix")
        sh(SOX + ["-m", a, "-v", f"{10 ** (gain_b_db / 20):.4f}", b] + FMT + [out, "trim", "0", str(length)])
        return out

    def gain(self, src, db):
        out = self.path("gain")
        sh(SOX + [src] + FMT + [out, "vol", f"{db}dB"])
        return out

    def silence(self, length):
        out = self.path("silence")
        sh(SOX + ["-n"] + FMT + [out, "trim", "0", str(length)])
        return out


def make_motifs(a):
    """name -> (wav, kind); kind 'bed' is mixed with fresh speech at each occurrence."""
    m = {}
    m["ident_long"] = (a.fit(f"{FREEDESKTOP}/alarm-clock-elapsed.oga", 6.0, "norm", "-3"), "plain")
    m["ident_short"] = (a.fit(f"{FREEDESKTOP}/alarm-clock-elapsed.oga", 3.0, "norm", "-3"), "plain")
    m["jingle_win"] = (a.excerpt(f"{ETR}/wonrace1-jt.ogg", 0, 5.0), "plain")
    m["jingle_lost"] = (a.excerpt(f"{ETR}/lostrace-ks.ogg", 0, 6.0), "plain")
    m["jingle_busy"] = (a.fit(f"{FREEDESKTOP}/phone-outgoing-busy.oga", 3.0, "norm", "-3"), "plain")
    ad1 = a.mix(a.excerpt(f"{ETR}/options1-jt.ogg", 0, 10.0),
                a.speech(10.0, "en-us", "Visit the harbour market this weekend, fresh fish and bread "
                                        "every Saturday from nine until late, see you there."), 0, 10.0)
    m["advert_market"] = (ad1, "plain")
    ad2 = a.mix(a.excerpt(f"{ETR}/raceintro-ks.ogg", 0, 6.3),
                a.speech(6.3, "en-gb", "Mountain Motors, the best cars in the valley, call us today."), 0, 6.3)
    m["advert_motors"] = (a.fit(ad2, 6.3), "plain")
    m["signoff"] = (a.speech(3.5, "en-gb-x-rp", "That was the news from avx radio, goodbye for now."), "plain")
    m["bed_race"] = (a.excerpt(f"{ETR}/race1-jt.ogg", 8, 20.0), "bed")
    return m


def make_programme(a, motifs, rng, minutes, idx, out_dir):
    total = minutes * 60.0
    items = []  # (wav, length, truth dict)
    t = 0.0
    names = list(motifs)
    while t < total - 8:
        r = rng.random()
        if r < 0.35:
            length = round(rng.uniform(8, 40), 2)
            items.append((a.speech(length), length, {"class": "speech"}))
        elif r < 0.55:
            length = round(rng.uniform(15, 40), 2)
            items.append((a.music(length), length, {"class": "music"}))
        elif r < 0.62:
            length = round(rng.uniform(1.0, 2.0), 2)
            items.append((a.silence(length), length, {"class": "silence"}))
        else:
            name = rng.choice(names)
            wav, kind = motifs[name]
            length = dur(wav)
            g = rng.choice([0, -3, -6])
            if kind == "bed":
                w = a.mix(wav, a.speech(length), -12, length)
            elif rng.random() < 0.33:
                w = a.mix(wav, a.music(length), -14, length)
            else:
                w = wav
            if g:
                w = a.gain(w, g)
            items.append((w, length, {"class": "motif", "motif": name}))
        t += items[-1][1]
    wav = os.path.join(a.dir, f"programme_{idx:02d}.wav")
    sh(SOX + [w for w, _, _ in items] + [wav])
    mp3 = idx % 3 == 2
    out = os.path.join(out_dir, f"programme_{idx:02d}.{'mp3' if mp3 else 'flac'}")
    if mp3:
        sh(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", wav, "-codec:a", "libmp3lame",
            "-b:a", "64k", out])
    else:
        sh(SOX + [wav, out])
    os.remove(wav)
    segs = []
    t = 0.0
    for _, length, truth in items:
        segs.append(dict(truth, start=round(t, 3), end=round(t + length, 3)))
        t += length
    return out, segs


def run_json(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode not in (0, 1):
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr}")
    return [json.loads(line) for line in p.stdout.splitlines() if line.strip()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--avx", required=True)
    ap.add_argument("--model-dir", default=os.path.join(os.path.dirname(__file__), "../../models/aisfx"))
    ap.add_argument("--work", default="/tmp/avx-archive")
    ap.add_argument("--programmes", type=int, default=30)
    ap.add_argument("--min-minutes", type=float, default=5)
    ap.add_argument("--max-minutes", type=float, default=30)
    ap.add_argument("--hop", default="0.58")
    ap.add_argument("--min-length", default="2.5s", help="avx recurring --min-length")
    ap.add_argument("--method", default="both", help="avx recurring/timeline --method: both, landmarks or windows")
    ap.add_argument("--threads", default="2")
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--skip-build", action="store_true", help="reuse the archive and index in --work")
    ap.add_argument("--audio-only", action="store_true", help="build the archive, then stop")
    ap.add_argument("--index", help="the index (default WORK/index)")
    ap.add_argument("--out", help="where rec.jsonl and results.json go (default WORK)")
    ap.add_argument("--rec", help="score this saved `avx --json recurring` output instead of running it")
    ap.add_argument("--skip-timeline", action="store_true", help="score `avx recurring` only")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    work = os.path.abspath(args.work)
    lib = os.path.join(work, "archive")
    index = os.path.abspath(args.index) if args.index else os.path.join(work, "index")
    out_dir = os.path.abspath(args.out) if args.out else work
    os.makedirs(out_dir, exist_ok=True)
    rec_path = os.path.join(out_dir, "rec.jsonl")
    truth_path = os.path.join(work, "truth.json")
    base = [args.avx, "--index", index, "--model-dir", os.path.abspath(args.model_dir), "--threads", args.threads,
            "--quiet"]
    timings = {}
    if not args.skip_build:
        os.makedirs(lib, exist_ok=True)
        a = Assets(work, rng)
        t0 = time.time()
        motifs = make_motifs(a)
        truth = {}
        for i in range(args.programmes):
            minutes = rng.uniform(args.min_minutes, args.max_minutes)
            path, segs = make_programme(a, motifs, rng, minutes, i, lib)
            truth[os.path.realpath(path)] = segs
        examples = {"speech": a.speech(12.0, "en-us"), "music": a.music(12.0)}
        json.dump({"programmes": truth, "examples": examples}, open(truth_path, "w"), indent=1)
        timings["build archive"] = time.time() - t0
        if args.audio_only:
            return
        t0 = time.time()
        sh(base + ["index", lib, "--hop", args.hop])
        timings["avx index"] = time.time() - t0
    data = json.load(open(truth_path))
    truth, examples = data["programmes"], data["examples"]
    # A smaller run: programmes removed from the archive directory before indexing are left out.
    truth = {p: segs for p, segs in truth.items() if os.path.exists(p)}
    hours = sum(s[-1]["end"] for s in truth.values()) / 3600

    if args.rec:
        rec_path = os.path.abspath(args.rec)
        rec = [json.loads(line) for line in open(rec_path) if line.strip()]
    else:
        t0 = time.time()
        rec = run_json(base + ["--json", "recurring", "--in", lib, "--min-length", args.min_length,
                               "--method", args.method])
        timings["avx recurring"] = time.time() - t0
        with open(rec_path, "w") as f:
            f.writelines(json.dumps(o) + "\n" for o in rec)
    occ = [o for o in rec if o["type"] == "occurrence"]

    # Recurring: recall over true occurrences (motifs >= 3 s), precision over reported ones.
    true_occ = [(p, s) for p, segs in truth.items() for s in segs if s["class"] == "motif" and s["end"] - s["start"] >= 3]
    used = set()
    start_err, end_err = [], []
    for p, s in true_occ:
        best = None
        for j, o in enumerate(occ):
            if o["path"] == p and abs(o["start"] - s["start"]) <= 1.0 and (best is None or abs(o["start"] - s["start"]) < abs(occ[best]["start"] - s["start"])):
                best = j
        if best is not None:
            used.add(best)
            start_err.append(abs(occ[best]["start"] - s["start"]))
            end_err.append(abs(occ[best]["end"] - s["end"]))
    matched_pred = sum(1 for j, o in enumerate(occ) if any(
        o["path"] == p and abs(o["start"] - s["start"]) <= 1.0 for p, s in true_occ))
    recall = len(start_err) / max(1, len(true_occ))
    precision = matched_pred / max(1, len(occ))
    # Motif purity: each matched reported occurrence gets its true motif (the 3 s and 6 s idents are one source);
    # a reported motif's purity is the share of its matched occurrences that carry its most common true motif.
    source = lambda name: "ident" if name.startswith("ident_") else name
    truth_of = {}
    for j, o in enumerate(occ):
        near = [s for p, s in true_occ if o["path"] == p and abs(o["start"] - s["start"]) <= 1.0]
        if near:
            truth_of[j] = source(min(near, key=lambda s: abs(o["start"] - s["start"]))["motif"])
    by_motif = {}
    for j, name in truth_of.items():
        by_motif.setdefault(occ[j]["motif"], []).append(name)
    pure = sum(max(names.count(n) for n in set(names)) for names in by_motif.values())
    purity = pure / max(1, len(truth_of))
    majority = {m: max(set(names), key=names.count) for m, names in by_motif.items()}
    sources_found = len(set(majority.values()))
    sources_planted = len({source(s["motif"]) for _, s in true_occ})
    per_motif = {}
    for p, s in true_occ:
        hit = any(o["path"] == p and abs(o["start"] - s["start"]) <= 1.0 for o in occ)
        d = per_motif.setdefault(s["motif"], [0, 0])
        d[0] += hit
        d[1] += 1

    # Timeline per programme.
    bound_err, agree, total = [], 0, 0
    speech_stem = os.path.splitext(os.path.basename(examples["speech"]))[0]
    t0 = time.time()
    for p, segs in ({} if args.skip_timeline else truth).items():
        # The motifs found above, read back (`--motifs`), not discovered again for each programme.
        out = run_json(base + ["--json", "timeline", p, "--motifs", rec_path,
                               "--like", examples["speech"], examples["music"]])
        got = [o for o in out if o["type"] == "segment"]
        cuts = [g["start"] for g in got[1:]]
        for a_, b_ in zip(segs, segs[1:]):
            if (a_["class"], a_.get("motif")) != (b_["class"], b_.get("motif")) and cuts:
                bound_err.append(min(abs(c - b_["start"]) for c in cuts))
        end = segs[-1]["end"]
        t = 0.05
        gi = si = 0
        while t < end:
            while si + 1 < len(segs) and segs[si]["end"] <= t:
                si += 1
            while gi + 1 < len(got) and got[gi]["end"] <= t:
                gi += 1
            g = got[gi] if got else {"kind": "other"}
            if g["kind"] in ("motif", "silence"):
                pred = g["kind"]
            else:
                ex = g.get("like", {}).get("example", "")
                pred = "speech" if ex == speech_stem else "music"
            agree += pred == segs[si]["class"]
            total += 1
            t += 0.1
    timings["avx timeline (all programmes)"] = time.time() - t0

    print(f"archive: {len(truth)} programmes, {hours:.2f} h, {len(true_occ)} true occurrences of motifs >= 3 s; "
          f"index hop {args.hop} s; avx threads {args.threads}\n")
    print("| recurring | value |\n|---|---|")
    print(f"| occurrence recall (start within 1 s) | {recall:.3f} ({len(start_err)}/{len(true_occ)}) |")
    print(f"| occurrence precision | {precision:.3f} ({matched_pred}/{len(occ)}) |")
    if start_err:
        print(f"| start error of matched occurrences: median / 90th pct | {statistics.median(start_err):.2f} s / "
              f"{sorted(start_err)[int(0.9 * (len(start_err) - 1))]:.2f} s |")
        print(f"| end error: median | {statistics.median(end_err):.2f} s |")
    print(f"| motifs reported | {sum(1 for o in rec if o['type'] == 'motif')} ({sources_planted} planted sources: "
          f"9 motifs, the 3 s and 6 s idents one source) |")
    print(f"| motif purity (matched occurrences in a motif whose majority is their own source) | {purity:.3f} "
          f"({pure}/{len(truth_of)}) |")
    print(f"| planted sources that are the majority of a reported motif | {sources_found}/{sources_planted} |")
    print("\n| reported motif | occurrences | matched: by source |\n|---|---|---|")
    for m in sorted(by_motif, key=lambda m: -len(by_motif[m])):
        names = by_motif[m]
        counts = ", ".join(f"{n} {names.count(n)}" for n in sorted(set(names), key=lambda n: -names.count(n)))
        print(f"| {m} | {sum(1 for o in occ if o['motif'] == m)} | {counts} |")
    print("\n| motif | recall |\n|---|---|")
    for k in sorted(per_motif):
        print(f"| {k} | {per_motif[k][0]}/{per_motif[k][1]} |")
    print("\n| timeline | value |\n|---|---|")
    if bound_err:
        print(f"| boundary error: median / mean | {statistics.median(bound_err):.2f} s / {statistics.mean(bound_err):.2f} s |")
        print(f"| boundaries within 0.5 s / 1 s | {sum(e <= 0.5 for e in bound_err) / len(bound_err):.3f} / "
              f"{sum(e <= 1.0 for e in bound_err) / len(bound_err):.3f} ({len(bound_err)} boundaries) |")
    print(f"| label accuracy over time (speech / music / motif / silence) | {agree / max(1, total):.3f} |")
    print("\n| step | seconds |\n|---|---|")
    for k, v in timings.items():
        print(f"| {k} | {v:.1f} |")
    json.dump({"recall": recall, "precision": precision, "start_err": start_err, "bound_err": bound_err,
               "label_accuracy": agree / max(1, total), "timings": timings, "per_motif": per_motif,
               "motif_purity": purity, "sources_found": sources_found},
              open(os.path.join(out_dir, "results.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
