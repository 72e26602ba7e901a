#!/usr/bin/env bash
# Cold starts end to end: `avx similar NEW.wav` (a 10 s 44.1 kHz WAV not in the index) and `avx search TEXT`, each a
# fresh process on a warm page cache, for this build's release binary and a reference binary (e.g. main's),
# alternated run by run so that the ratio holds on a shared machine. Prints the medians of wall time, CPU time
# (user + system) and peak RSS, and the ratios new/reference.
#
#   benches/cold_cli.sh MODEL_DIR REFERENCE_AVX [NEW_AVX] [RUNS]
#
# MODEL_DIR: a full-size model in the Xenova layout (e.g. /work/models/clap-full); NEW_AVX defaults to
# target/release/avx (`cargo build --release -p avx-cli`); RUNS defaults to 7. Uses `--threads 2`. The index (8
# files of tests/data/audio, fp32) is built once in a temporary directory; one warm-up run of each binary saves
# its optimised graphs in the user's cache directory before the timed runs.
set -euo pipefail
model=${1:?usage: benches/cold_cli.sh MODEL_DIR REFERENCE_AVX [NEW_AVX] [RUNS]}
ref=${2:?usage: benches/cold_cli.sh MODEL_DIR REFERENCE_AVX [NEW_AVX] [RUNS]}
root=$(cd "$(dirname "$0")/.." && pwd)
new=${3:-$root/target/release/avx}
runs=${4:-7}
for b in "$ref" "$new"; do
    [ -x "$b" ] || { echo "cold_cli: $b is not an executable (cargo build --release -p avx-cli)" >&2; exit 2; }
done
[ -x /usr/bin/time ] || { echo "cold_cli: needs GNU time at /usr/bin/time (apt-get install time)" >&2; exit 2; }

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lib"
for f in mono16k_s16_11s.wav mono22k_5s.flac mono48k_10s.flac mono48k_s16_3s.wav stereo44k_4s.mp3 \
    stereo44k_s24_4s.wav stereo48k_12p5s.flac stereo44k_4s.ogg; do
    cp "$root/tests/data/audio/$f" "$work/lib/"
done
python3 - "$work/new.wav" <<'EOF'
import math, struct, sys, wave
rate = 44100
with wave.open(sys.argv[1], "wb") as w:
    w.setnchannels(2)
    w.setsampwidth(2)
    w.setframerate(rate)
    frames = bytearray()
    for i in range(rate * 10):
        q = int(math.sin(2 * math.pi * 440 * i / rate) * 8000 * (1 + 0.5 * math.sin(i / rate)))
        frames += struct.pack("<hh", q, q)
    w.writeframes(bytes(frames))
EOF
common=(--model-dir "$model" --index "$work/index" --threads 2 --quiet)
"$new" "${common[@]}" index "$work/lib" >/dev/null

run() { # binary, command...: prints "wall cpu rss_mb"
    local bin=$1
    shift
    /usr/bin/time -f "%e %U %S %M" -o "$work/t" "$bin" "${common[@]}" "$@" >/dev/null
    awk '{printf "%.3f %.3f %.0f\n", $1, $2 + $3, $4 / 1024}' "$work/t"
}
declare -A out
queries=("similar:similar $work/new.wav -k 5" "search:search door slam -k 5")
for b in ref new; do
    bin=$ref
    [ $b = new ] && bin=$new
    for q in "${queries[@]}"; do
        # shellcheck disable=SC2086
        run "$bin" ${q#*:} >/dev/null # warm-up: saves the optimised graphs, warms the page cache
    done
done
for _ in $(seq "$runs"); do
    for q in "${queries[@]}"; do
        for b in ref new; do
            bin=$ref
            [ $b = new ] && bin=$new
            # shellcheck disable=SC2086
            out[$b/${q%%:*}]+="$(run "$bin" ${q#*:})"$'\n'
        done
    done
done
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
echo "cold starts, $runs alternated runs, medians; $(lscpu | grep 'Model name' | sed 's/  */ /g'); load average $load_before at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
echo "| command | binary | wall s | CPU s | peak RSS MB |"
echo "|---|---|---|---|---|"
for q in "${queries[@]}"; do
    name=${q%%:*}
    for b in ref new; do
        col() { printf '%s' "${out[$b/$name]}" | awk -v c="$1" 'NF {print $c}' | median; }
        echo "| avx $name | $b | $(col 1) | $(col 2) | $(col 3) |"
    done
    ratio() {
        local r n
        r=$(printf '%s' "${out[ref/$name]}" | awk -v c="$1" 'NF {print $c}' | median)
        n=$(printf '%s' "${out[new/$name]}" | awk -v c="$1" 'NF {print $c}' | median)
        awk -v a="$n" -v b="$r" 'BEGIN {printf "%.2f", a / b}'
    }
    echo "| avx $name | new/ref | $(ratio 1)x | $(ratio 2)x | $(ratio 3)x |"
done
