#!/usr/bin/env bash
# Interleaved avx / hnswlib index runs on the same vectors, then the equal-recall summary.
#
#   benches/index_vs_hnswlib.sh OUTDIR [RUNS] [PYTHON]
#
# Environment: AVX_BENCH_N (default 100000), AVX_BENCH_DIM (512). Release profile. PYTHON (default `python3`)
# needs hnswlib and numpy (and matplotlib for the plot). Both sides build with 2 threads and query on one.
# OUTDIR keeps the index (reused, its graph rebuilt each run), the exported vectors and the logs.
set -euo pipefail
out=${1:?usage: benches/index_vs_hnswlib.sh OUTDIR [RUNS] [PYTHON]}
runs=${2:-3}
py=${3:-python3}
n=${AVX_BENCH_N:-100000}
dim=${AVX_BENCH_DIM:-512}
mkdir -p "$out/logs"
cargo bench -p avx-index --bench index --no-run
for i in $(seq 1 "$runs"); do
    echo "run $i: load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/logs/load.txt"
    export_dir=()
    [ -f "$out/vecs/queries.f32" ] || export_dir=(AVX_BENCH_EXPORT="$out/vecs")
    env "${export_dir[@]}" AVX_BENCH_N="$n" AVX_BENCH_DIM="$dim" AVX_BENCH_REPORT_ONLY=1 AVX_BENCH_DIR="$out/ix" \
        AVX_BENCH_REBUILD_GRAPH=1 RAYON_NUM_THREADS=2 \
        cargo bench -p avx-index --bench index 2>&1 | tee "$out/logs/avx-$i.log" | grep -E "build|open|ef=(32|96|200)"
    "$py" benches/hnswlib_compare.py "$out/vecs" --dim "$dim" --threads 2 2>&1 | tee "$out/logs/hnswlib-$i.log" \
        | grep -E "build|open|ef=(32|96|200)"
done
"$py" benches/index_vs_hnswlib.py "$out/logs"
