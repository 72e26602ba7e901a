#!/bin/bash
# The pipeline bench on another machine (here: the CPU of a lent GPU machine), from a folder carried there holding:
# pipeline.xz (the stripped bench binary, xz), ort/libonnxruntime.so.1.31.1.xz, audio_stripped.onnx.xz (the
# export's graph without its large weights: `python3 weights.py strip audio_model.onnx audio_stripped.onnx`), clapmodel/
# (the export's small json files), flac/ (Debian's flac binary with libFLAC and libogg) and sox (the stand-in in
# this folder). Usage: pipeline.sh ROUNDS [all]; results under $OUT. Logs of 2026-11-30: benches/results/pipeline-2026-11-30/.
set -x
cd "$(dirname "$0")"
D=$PWD
rounds=${1:-5}
{ lscpu | grep -E "Model name|^CPU\(s\)|Thread|Core|Socket"; nproc; uptime; } 2>&1 | tee "$OUT/machine.txt"
python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('ort/libonnxruntime.so.1.31.1.xz'), open('ort/libonnxruntime.so.1.31.1','wb'))"
mkdir -p clapmodel/onnx
python3 weights.py fill audio_stripped.onnx.xz clapmodel/onnx/audio_model.onnx
python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('pipeline.xz'), open('pipeline','wb'))"
chmod +x pipeline sox flac/flac
export PATH=$D:$PATH ORT_DYLIB_PATH=$D/ort/libonnxruntime.so.1.31.1 AVX_BENCH_MODEL=$D/clapmodel \
    AVX_BENCH_ROUNDS=$rounds AVX_BENCH_THREADS=2 HOME=/tmp/home
mkdir -p /tmp/home
taskset -c 0,1 ./pipeline --bench 2>&1 | tee "$OUT/pipeline-2cores.log"
if [ "${2:-}" = all ]; then ./pipeline --bench 2>&1 | tee "$OUT/pipeline-allcores.log"; fi
