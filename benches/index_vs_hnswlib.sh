#!/usr/bin/env bash
# Interleaved avx / hnswlib index runs on the same vectors, then the equal-recall summary.
#
#   benches/index_vs_hnswlib.sh OUTDIR [RUNS] [PYTHON]
#
# Environment: AVX_BENCH_N (default 100000), AVX_BENCH_DIM (512): synthetic vectors, exported to OUTDIR/vecs
# on the first run; or AVX_BENCH_VECTORS=DIR: the vectors and queries in DIR (vectors.f32, queries.f32, e.g.
# from benches/real_set.sh), N being its row count. Release profile. PYTHON (default `python3`) needs hnswlib
# and numpy (and matplotlib for the plot). Both sides build with 2 threads and query on one.
# OUTDIR keeps the index (reused, its graph rebuilt each run), the exported vectors, the logs and a copy of the
# bench binary and of hnswlib_compare.py (built and copied once, so that edits during a long run change nothing).
set -euo pipefail
out=${1:?usage: benches/index_vs_hnswlib.sh OUTDIR [RUNS] [PYTHON]}
runs=${2:-3}
py=${3:-python3}
n=${AVX_BENCH_N:-100000}
dim=${AVX_BENCH_DIM:-512}
mkdir -p "$out/logs" "$out/bin"
exe=$(cargo bench -p avx-index --bench index --no-run 2>&1 | tee /dev/stderr \
    | sed -n 's/.*Executable .*benches\/index.rs (\(.*\))$/\1/p' | tail -n1)
[ -n "$exe" ] || { echo "could not find the bench executable in cargo's output" >&2; exit 1; }
cp "$exe" "$out/bin/index"
cp benches/hnswlib_compare.py "$out/bin/"
git rev-parse HEAD >"$out/logs/commit.txt"
git status --short --untracked-files=no >>"$out/logs/commit.txt"
vecs=${AVX_BENCH_VECTORS:-$out/vecs}
for i in $(seq 1 "$runs"); do
    echo "run $i: load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)" | tee -a "$out/logs/load.txt"
    export_dir=()
    [ -n "${AVX_BENCH_VECTORS:-}" ] || [ -f "$vecs/queries.f32" ] || export_dir=(AVX_BENCH_EXPORT="$vecs")
    env "${export_dir[@]}" AVX_BENCH_N="$n" AVX_BENCH_DIM="$dim" AVX_BENCH_REPORT_ONLY=1 AVX_BENCH_DIR="$out/ix" \
        AVX_BENCH_REBUILD_GRAPH=1 RAYON_NUM_THREADS=2 \
        "$out/bin/index" 2>&1 | tee "$out/logs/avx-$i.log" | grep -E "build|open|ef=(32|96|200|400)"
    "$py" "$out/bin/hnswlib_compare.py" "$vecs" --dim "$dim" --threads 2 2>&1 | tee "$out/logs/hnswlib-$i.log" \
        | grep -E "build|open|ef=(32|96|200|400)"
done
"$py" benches/index_vs_hnswlib.py "$out/logs"
