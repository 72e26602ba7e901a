#!/usr/bin/env bash
# Sharded indexing: wall time of N=2 shards run side by side (`avx index --shard 1/2` and `2/2` at the same time,
# one thread each) against one unsharded run (two threads), on the same library, with the committed aiSFX model.
# On one 2-core machine this measures the overhead of sharding (two processes, two model loads), not a
# speed-up: the speed-up comes from running the shards on different machines.
#
#   benches/shard.sh [LIBRARY_DIR] [RUNS]      (default: tests/data/audio and examples/audio, 3 runs)
#
# Uses target/release/avx (cargo build --release -p avx-cli), or the binary in AVX_BIN.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
avx="${AVX_BIN:-$root/target/release/avx}"
runs="${2:-3}"
libs=("${1:-$root/tests/data/audio}")
[[ $# -ge 1 ]] || libs+=("$root/examples/audio")
export AVX_MODEL_DIR="$root/models/aisfx"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
now() { date +%s.%N; }
for r in $(seq "$runs"); do
    rm -rf "$out"/*
    t0=$(now)
    AVX_INDEX="$out/whole" "$avx" --quiet --threads 2 index "${libs[@]}" || true
    t1=$(now)
    AVX_INDEX="$out/s1" "$avx" --quiet --threads 1 index --shard 1/2 "${libs[@]}" &
    p1=$!
    AVX_INDEX="$out/s2" "$avx" --quiet --threads 1 index --shard 2/2 "${libs[@]}" &
    p2=$!
    wait $p1 || true
    wait $p2 || true
    t2=$(now)
    whole=$(echo "$t1 - $t0" | bc)
    sharded=$(echo "$t2 - $t1" | bc)
    echo "run $r: one run $whole s, two shards side by side $sharded s, ratio $(echo "scale=2; $sharded / $whole" | bc)"
done
