#!/bin/bash
cd /work/main/crates/embed
export AVX_BENCH_MODEL=/work/models/clap-full AVX_BENCH_ROUNDS=3
for which in new old; do
  bin=/work/main/target/release/deps/pipeline-f4e6b747c4b5d5da; [ $which = old ] && bin=/work/target-old/release/deps/pipeline-f4e6b747c4b5d5da
  echo "== $which run 4 $(date +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
  $bin --bench 2>&1
done
echo "== end $(date +%T)"
