"""The near-duplicate evaluation set (eval/README.md, "Near-duplicates"), built from Debian's sound packages.

Originals: sonic-pi-samples one-shots and loops, the first velocity layer of hydrogen-drumkits instruments, 50 ms
cuts of hydrogen hits, and three ~60 s recordings (sonic-pi files joined end to end, no source shared). Every
original gets every edit of EDITS (sox / ffmpeg). Look-alikes (negatives, never edited): the other velocity
layers of each hydrogen instrument (except layers that are the first one at another gain: `scaled_copy`), 50 ms
cuts of those layers, and each sonic-pi original's neighbours in name
order within its family (drum_snare_hard / drum_snare_soft, tabla_ghe1 / tabla_ghe2, bd_ada / bd_boom).
A look-alike pair is an (original, look-alike) or (original, original) pair of one family.
"""
import os
import re
import shutil
import subprocess

SONICPI = "/usr/share/sonic-pi/samples"
HYDROGEN = "/usr/share/hydrogen/data/drumkits"

# name -> (output extension, command maker(src, dst))
SOX = ["sox", "-R", "-D", "-V1"]
FF = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-threads", "1"]


def _sox(*fx):
    return ".wav", lambda s, d: [*SOX, s, "-b", "16", d, *fx]


def _rt(rate):
    return ".wav", lambda s, d: [*SOX, s, "-b", "16", d, "rate", "-v", str(rate), "rate", "-v", "44100"]


def _ff(ext, *args):
    return ext, lambda s, d: [*FF, "-i", s, *args, d]


EDITS = {
    "pad_lead_0.5s": _sox("pad", "0.5", "0"),
    "pad_lead_2s": _sox("pad", "2", "0"),
    "pad_trail_0.5s": _sox("pad", "0", "0.5"),
    "pad_trail_2s": _sox("pad", "0", "2"),
    "fade_in_out": None,  # needs the duration: see edit()
    "trim_10pct": None,
    "mp3_320k": _ff(".mp3", "-c:a", "libmp3lame", "-b:a", "320k"),
    "mp3_128k": _ff(".mp3", "-c:a", "libmp3lame", "-b:a", "128k"),
    "mp3_64k": _ff(".mp3", "-c:a", "libmp3lame", "-b:a", "64k"),
    "aac_128k": _ff(".m4a", "-c:a", "aac", "-b:a", "128k"),
    "vorbis_q3": _ff(".ogg", "-c:a", "libvorbis", "-q:a", "3"),
    "rt_48k": _rt(48000),
    "rt_22.05k": _rt(22050),
    "rt_16k": _rt(16000),
    "bits_24": (".wav", lambda s, d: [*SOX, s, "-b", "24", d]),
    "bits_16_dither": (".wav", lambda s, d: ["sox", "-R", "-V1", s, "-b", "16", d, "dither"]),
    "mono_fold": _sox("remix", "-"),
    "gain_-12dB": _sox("gain", "-12"),
    "gain_+6dB": _sox("gain", "-l", "6"),
    "normalise": _sox("norm", "-0.1"),
    "lowpass_8k": _sox("lowpass", "8000"),
    "pink_noise_30dB": None,
    "pitch_+1st": _sox("pitch", "100"),
    "pitch_-1st": _sox("pitch", "-100"),
    "speed_+1st": _sox("speed", "1.0595"),
    "stretch_5pct": _sox("tempo", "0.95"),
}
GROUPS = {
    "silence/trim/fade": ["pad_lead_0.5s", "pad_lead_2s", "pad_trail_0.5s", "pad_trail_2s", "fade_in_out",
                          "trim_10pct"],
    "re-encode": ["mp3_320k", "mp3_128k", "mp3_64k", "aac_128k", "vorbis_q3"],
    "rate/bits/gain/mono": ["rt_48k", "rt_22.05k", "rt_16k", "bits_24", "bits_16_dither", "mono_fold",
                            "gain_-12dB", "gain_+6dB", "normalise"],
    "processing": ["lowpass_8k", "pink_noise_30dB", "pitch_+1st", "pitch_-1st", "speed_+1st", "stretch_5pct"],
}


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))}: exit {r.returncode}\n{r.stderr[-2000:]}")
    return r.stdout


def duration(p):
    return float(run(["soxi", "-D", p]).strip())


def edit(src, name, dst_dir, only_existing=False):
    base = os.path.splitext(os.path.basename(src))[0]
    spec = EDITS[name]
    ext = spec[0] if spec else ".wav"
    d = os.path.join(dst_dir, f"{base}__{name}{ext}")
    if os.path.exists(d) or only_existing:
        return d if os.path.exists(d) else None
    if name == "fade_in_out":
        dur = duration(src)
        f = max(0.005, min(0.5, dur * 0.1))
        run([*SOX, src, "-b", "16", d, "fade", "t", f"{f:.3f}", "-0", f"{f:.3f}"])
    elif name == "trim_10pct":
        dur = duration(src)
        run([*SOX, src, "-b", "16", d, "trim", f"{dur * 0.1:.4f}"])
    elif name == "pink_noise_30dB":
        # Pink noise 30 dB below the sound's RMS level, mixed in.
        rms = float(re.search(r"RMS\s+amplitude:\s+([0-9.e-]+)", subprocess.run(
            ["sox", src, "-n", "stat"], capture_output=True, text=True).stderr).group(1))
        dur, ch, rate = duration(src), run(["soxi", "-c", src]).strip(), run(["soxi", "-r", src]).strip()
        noise = d + ".noise.wav"
        run([*SOX, "-n", "-r", rate, "-c", ch, "-b", "32", "-e", "floating-point", noise, "synth", f"{dur:.4f}",
             "pinknoise", "gain", "-n", "norm", "0"])
        nrms = float(re.search(r"RMS\s+amplitude:\s+([0-9.e-]+)", subprocess.run(
            ["sox", noise, "-n", "stat"], capture_output=True, text=True).stderr).group(1))
        scale = rms / max(nrms, 1e-9) * 10 ** (-30 / 20)
        run([*SOX, "-m", src, "-v", f"{scale:.6g}", noise, "-b", "16", d])
        os.remove(noise)
    else:
        run(spec[1](src, d))
    return d


def _samples(p):
    import numpy as np
    raw = subprocess.run(["sox", p, "-t", "f32", "-c", "1", "-r", "22050", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, dtype=np.float32).astype(np.float64)


def scaled_copy(a, b):
    """Whether b's waveform is a's up to gain and a shift (peak normalised cross-correlation >= 0.999): some kits'
    velocity layers (Gimme A Hand's) are one recording at four gains, i.e. gain edits, not look-alikes."""
    import numpy as np
    x, y = _samples(a), _samples(b)
    n = 1 << int(np.ceil(np.log2(len(x) + len(y))))
    c = np.fft.irfft(np.fft.rfft(x, n) * np.conj(np.fft.rfft(y, n)), n)
    return float(np.max(np.abs(c)) / (np.linalg.norm(x) * np.linalg.norm(y) + 1e-12)) >= 0.999


def _copy(src, dst):
    if not os.path.exists(dst):
        shutil.copyfile(src, dst)
    return dst


def hydrogen_instruments():
    """[(kit, instrument, [layer paths])] for instruments with at least two layers, sorted."""
    import xml.etree.ElementTree as ET
    out = []
    for kit in sorted(os.listdir(HYDROGEN)):
        x = os.path.join(HYDROGEN, kit, "drumkit.xml")
        if not os.path.isfile(x):
            continue
        root = ET.parse(x).getroot()
        for inst in root.findall(".//{*}instrument"):
            name = (inst.findtext("{*}name") or "").strip()
            layers = []
            for fn in inst.findall(".//{*}filename"):
                p = os.path.join(HYDROGEN, kit, (fn.text or "").strip())
                if fn.text and os.path.isfile(p) and p not in layers:
                    layers.append(p)
            if len(layers) >= 2:
                out.append((kit, name, layers))
    return out


def sonic_family(name):
    stem = os.path.splitext(name)[0]
    stem = re.sub(r"\d+$", "", stem)
    parts = stem.split("_")
    if parts[0] in ("drum", "tabla", "elec", "mehackit") and len(parts) > 1:
        return "_".join(parts[:2]) if parts[0] in ("drum", "mehackit") else parts[0] + "_" + parts[1][:2]
    return parts[0]


def build(work, n_sonic=52, n_hydrogen=40, n_short=5, n_long=3, only_existing=False):
    """Builds the set under work/files; returns {path: (source id, kind, family)}, the look-alike pairs and the
    originals. `only_existing`: make no edited copy, list those already made (a partly built set)."""
    root = os.path.join(work, "files")
    odir, edir, ndir = (os.path.join(root, x) for x in ("orig", "edited", "lookalike"))
    for x in (odir, edir, ndir):
        os.makedirs(x, exist_ok=True)
    meta, originals = {}, []
    sonic = sorted(f for f in os.listdir(SONICPI) if f.endswith(".flac"))
    by_family = {}
    for f in sonic:
        by_family.setdefault(sonic_family(f), []).append(f)
    # Originals: families with >= 2 members first (their neighbours are the look-alikes), every other file of a
    # family; long loops are left for the ~60 s recordings.
    chosen, rest = [], []
    for fam in sorted(by_family):
        members = by_family[fam]
        if fam in ("loop", "ambi"):
            rest += members
            continue
        chosen += [(fam, m) for m in members[::2]] if len(members) >= 2 else []
    chosen = chosen[:n_sonic]
    sid = 0
    lookalike_pairs = set()
    for fam, f in chosen:
        p = _copy(os.path.join(SONICPI, f), os.path.join(odir, f))
        meta[p] = (sid, "original", "sonic:" + fam)
        originals.append(p)
        sid += 1
        nb = by_family[fam]
        i = nb.index(f)
        for j in (i - 1, i + 1):
            if 0 <= j < len(nb):
                q = os.path.join(SONICPI, nb[j])
                dst = os.path.join(odir, nb[j]) if (fam, nb[j]) in chosen else os.path.join(ndir, nb[j])
                q = _copy(q, dst)
                if q not in meta:
                    meta[q] = (sid, "lookalike", "sonic:" + fam)
                    sid += 1
                lookalike_pairs.add(tuple(sorted((p, q))))
    insts = hydrogen_instruments()
    step = max(1, len(insts) // n_hydrogen)
    picked = insts[::step][:n_hydrogen]
    for k, (kit, name, layers) in enumerate(picked):
        fam = f"hydrogen:{kit}/{name}"
        tag = re.sub(r"[^A-Za-z0-9]+", "_", f"{kit}_{name}")
        p = _copy(layers[0], os.path.join(odir, f"h{k:02d}_{tag}_{os.path.basename(layers[0])}"))
        meta[p] = (sid, "original", fam)
        originals.append(p)
        sid += 1
        for layer in layers[1:4]:
            if scaled_copy(layers[0], layer):
                continue
            q = _copy(layer, os.path.join(ndir, f"h{k:02d}_{tag}_{os.path.basename(layer)}"))
            meta[q] = (sid, "lookalike", fam)
            sid += 1
            lookalike_pairs.add(tuple(sorted((p, q))))
        if k < n_short:  # 50 ms one-shots: a cut of the first layer, and of the second as its look-alike
            s = os.path.join(odir, f"h{k:02d}_{tag}_50ms.wav")
            if not os.path.exists(s):
                run([*SOX, layers[0], "-b", "16", s, "trim", "0", "0.05"])
            meta[s] = (sid, "original", fam + "/50ms")
            originals.append(s)
            sid += 1
            t = os.path.join(ndir, f"h{k:02d}_{tag}_50ms_layer2.wav")
            if not os.path.exists(t):
                run([*SOX, layers[1], "-b", "16", t, "trim", "0", "0.05"])
            meta[t] = (sid, "lookalike", fam + "/50ms")
            sid += 1
            lookalike_pairs.add(tuple(sorted((s, t))))
    # ~60 s recordings from disjoint loops (sox concatenation, all converted to 44.1 kHz stereo).
    loops = [os.path.join(SONICPI, f) for f in rest]
    per = max(1, len(loops) // max(n_long, 1))
    for k in range(n_long):
        srcs, total = [], 0.0
        for q in loops[k * per:(k + 1) * per]:
            srcs.append(q)
            total += duration(q)
            if total >= 60:
                break
        p = os.path.join(odir, f"long{k}_{int(total)}s.wav")
        if not os.path.exists(p):
            parts = []
            for i, q in enumerate(srcs):
                t = p + f".{i}.wav"
                run([*SOX, q, "-r", "44100", "-c", "2", "-b", "16", t])
                parts.append(t)
            run([*SOX, *parts, p])
            for t in parts:
                os.remove(t)
        meta[p] = (sid, "original", f"long{k}")
        originals.append(p)
        sid += 1
    # One source id per content: a kit may use one sample file for two instruments (Millo_MultiLayered2's
    # "Crash" and "Crash Jazz" are the same crash_0N.flac), and such copies are duplicates, not look-alikes.
    import hashlib
    first = {}
    for p in list(meta):
        h = hashlib.md5(open(p, "rb").read()).hexdigest()
        s0 = first.setdefault(h, meta[p][0])
        meta[p] = (s0, *meta[p][1:])
    lookalike_pairs = {pr for pr in lookalike_pairs if meta[pr[0]][0] != meta[pr[1]][0]}
    for p in originals:
        s, _, fam = meta[p]
        for name in EDITS:
            e = edit(p, name, edir, only_existing)
            if e:
                meta[os.path.realpath(e)] = (s, name, fam)
    meta = {os.path.realpath(p): v for p, v in meta.items()}
    lookalike_pairs = {tuple(sorted((os.path.realpath(a), os.path.realpath(b)))) for a, b in lookalike_pairs}
    return meta, lookalike_pairs, [os.path.realpath(p) for p in originals]


def restrict(meta, lookalike_pairs, originals, present):
    """The set limited to files in `present` (e.g. those indexed so far), originals only with all their edits."""
    complete = {meta[p][0] for p in originals if p in present and
                sum(1 for q, v in meta.items() if v[0] == meta[p][0] and v[1] in EDITS and q in present) == len(EDITS)}
    keep = {p: v for p, v in meta.items() if p in present and (v[1] == "lookalike" or v[0] in complete)}
    return keep, {pr for pr in lookalike_pairs if pr[0] in keep and pr[1] in keep}, [p for p in originals if p in keep]


def score(groups, meta, lookalike_pairs, originals):
    """Per-edit recall and precision, overall precision and look-alike false pairs of `avx dupes --json` groups
    (pairs with a file outside `meta` are ignored)."""
    pairs = set()
    for g in groups:
        ms = [m["path"] for m in g["members"]]
        for x in range(len(ms)):
            for y in range(x + 1, len(ms)):
                if ms[x] in meta and ms[y] in meta:
                    pairs.add(tuple(sorted((ms[x], ms[y]))))
    origs_of = {}
    for p in originals:
        origs_of.setdefault(meta[p][0], []).append(p)
    row = {}
    for t in EDITS:
        tp = fp = found = n = 0
        for p, (s, kind, _) in meta.items():
            if kind != t:
                continue
            n += 1
            found += any(tuple(sorted((p, o))) in pairs for o in origs_of[s])
        for x, y in pairs:
            if t not in (meta.get(x, (0, ""))[1], meta.get(y, (0, ""))[1]):
                continue
            if meta[x][0] == meta[y][0]:
                tp += 1
            else:
                fp += 1
        row[t] = {"recall": found / n if n else 0.0, "precision": tp / (tp + fp) if tp + fp else 1.0, "fp": fp,
                  "n": n}
    same = sum(1 for x, y in pairs if meta[x][0] == meta[y][0])
    false_look = sum(1 for pr in lookalike_pairs if pr in pairs)
    row["all"] = {"pairs": len(pairs), "precision": same / len(pairs) if pairs else 1.0,
                  "false_pairs": len(pairs) - same, "lookalike_pairs": len(lookalike_pairs),
                  "lookalike_false": false_look}
    for gname, edits in GROUPS.items():
        row[gname] = {"recall_min": min(row[t]["recall"] for t in edits)}
    return row
