#!/usr/bin/env bash
# `avx index` on a real library (Debian's sonic-pi-samples and hydrogen-drumkits, about 870 files), then the
# unchanged re-index and the cold start of `avx similar` (an indexed query, and a new file).
#
#   benches/library.sh MODEL_DIR [OUT_DIR]
#
# MODEL_DIR: a full-size CLAP export (models/export_clap.py --random-init); speed does not depend on weights.
# Needs `apt-get install sonic-pi-samples hydrogen-drumkits` and a release build (cargo build --release).
set -euo pipefail
model="$1"; out="${2:-$(mktemp -d)}"; mkdir -p "$out"
avx="$(cd "$(dirname "$0")/.." && pwd)/target/release/avx"
libs=(/usr/share/sonic-pi/samples /usr/share/hydrogen/data/drumkits)
export AVX_MODEL_DIR="$model" AVX_INDEX="$out/index"
rm -rf "$AVX_INDEX"
t0=$(date +%s.%N)
"$avx" --json index "${libs[@]}" > "$out/index.json" || true
t1=$(date +%s.%N)
windows=$(grep '"summary"' "$out/index.json" | sed 's/.*"windows":\([0-9]*\).*/\1/')
files=$(grep '"summary"' "$out/index.json" | sed 's/.*"new":\([0-9]*\).*/\1/')
echo "index: $files files, $windows windows in $(echo "$t1 - $t0" | bc) s: $(echo "scale=2; $files / ($t1 - $t0)" | bc) files/s, $(echo "scale=2; $windows / ($t1 - $t0)" | bc) windows/s"
for i in 1 2 3; do
  t0=$(date +%s.%N); "$avx" --quiet index "${libs[@]}"; t1=$(date +%s.%N)
  echo "re-index unchanged, run $i: $(echo "$t1 - $t0" | bc) s ($(echo "scale=3; ($t1 - $t0) * 1000 / $files" | bc) s per 1000 files)"
done
q=/usr/share/sonic-pi/samples/drum_heavy_kick.flac
new="$out/new_kick.wav"; sox "$q" "$new" gain -3
for i in 1 2 3; do
  t0=$(date +%s.%N); "$avx" similar "$q" -k 10 > /dev/null; t1=$(date +%s.%N)
  t2=$(date +%s.%N); "$avx" similar "$new" -k 10 > /dev/null; t3=$(date +%s.%N)
  echo "similar cold start, run $i: indexed query $(echo "$t1 - $t0" | bc) s, new file $(echo "$t3 - $t2" | bc) s"
done
