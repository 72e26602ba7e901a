#!/bin/bash
# Alternates the pipeline bench of the new tree and of the old soundprint (e75beb2) while the archive eval is paused.
cd /work/main
export AVX_BENCH_MODEL=/work/models/clap-full AVX_BENCH_ROUNDS=3
NEW=/work/main/target/release/deps/pipeline-f4e6b747c4b5d5da
OLD=/work/target-old/release/deps/pipeline-f4e6b747c4b5d5da
for i in 1 2 3; do
  for which in new old; do
    [ $i = 3 ] && [ $which = old ] && continue
    bin=$NEW; [ $which = old ] && bin=$OLD
    echo "== $which run $i $(date +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
    (cd crates/embed && $bin --bench) 2>&1
  done
done
echo "== end $(date +%T)"
