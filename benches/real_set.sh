#!/usr/bin/env bash
# The real vector set of the index benches: aiSFX window vectors of the sounds in Debian's sound, sample and
# game-data packages, as vectors.f32 (build set) and queries.f32 (1,000 windows of held-out files).
#
#   benches/real_set.sh WORKDIR [PYTHON]
#
# Downloads the packages below with `apt-get download` (about 1.3 GB; Debian bookworm), unpacks them with
# `dpkg -x` under WORKDIR/pkgs (the .deb files are deleted once unpacked), takes the sounds out of OpenArena's
# pk3 archives (zip), indexes everything with the committed aiSFX model (`avx index --hop 0.58`: one window per
# 0.58 s, release build), exports the windows (`avx export --format jsonl --segments`) and converts them with
# benches/real_set.py into WORKDIR/vecs. Then:
#
#   AVX_BENCH_VECTORS=WORKDIR/vecs benches/index_vs_hnswlib.sh OUTDIR 3 PYTHON
#
# PYTHON (default python3) needs numpy. Needs apt-get, dpkg-deb and unzip. Indexing every package (about 50k
# windows) takes about 40 minutes of CPU (21 windows per CPU second on a 2-core AMD EPYC); Ctrl-C commits the
# finished files and the steps after it can be run by hand on what is indexed. Not run by CI.
set -euo pipefail
work=${1:?usage: benches/real_set.sh WORKDIR [PYTHON]}
py=${2:-python3}
pkgs=(sonic-pi-samples hydrogen-drumkits hydrogen-drumkits-effects sound-theme-freedesktop extremetuxracer-data
    freeciv-data supertux-data openarena-data wesnoth-1.16-music frozen-bubble-data pingus-data hedgewars-data
    warzone2100-music xmoto-data megaglest-data gnome-audio lmms-common)
mkdir -p "$work/debs" "$work/pkgs"
work=$(cd "$work" && pwd)
(cd "$work/debs" && apt-get download "${pkgs[@]}")
for deb in "$work"/debs/*.deb; do
    name=$(basename "$deb"); name=${name%%_*}
    mkdir -p "$work/pkgs/$name"
    dpkg -x "$deb" "$work/pkgs/$name"
    rm "$deb"
done
find "$work/pkgs" -name '*.pk3' | while read -r pk3; do
    dest=$work/pkgs/openarena-data/extracted/$(basename "$(dirname "$pk3")")-$(basename "$pk3" .pk3)
    unzip -q -o "$pk3" '*.wav' '*.ogg' -d "$dest" || true
done
cargo build --release -p avx-cli
avx=target/release/avx
"$avx" --model-dir models/aisfx --index "$work/ix" index "$work/pkgs" --hop 0.58
"$avx" --index "$work/ix" info
"$avx" --index "$work/ix" export --format jsonl --segments "$work/embeddings.jsonl"
"$py" benches/real_set.py "$work/embeddings.jsonl" "$work/vecs"
rm "$work/embeddings.jsonl"
