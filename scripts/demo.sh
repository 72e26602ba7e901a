#!/usr/bin/env bash
# The main job on the example library: builds avx, indexes examples/audio, and runs the commands a user would.
#
# The model: AVX_MODEL_DIR if set (a local model directory), else the default CLAP model in the cache
# (`avx model fetch` downloads it). When neither is possible (no network, no local copy), the demo says exactly
# what to do and then runs on the committed tiny random-weight test model, so the whole pipeline still runs;
# its rankings are meaningless and are labelled so.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-ort.sh
cargo build --release --locked -p avx-cli
avx="$PWD/target/release/avx"
work="${AVX_DEMO_DIR:-$PWD/target/demo}"
rm -rf "$work"; mkdir -p "$work"
export AVX_INDEX="$work/index"

if [ -n "${AVX_MODEL_DIR:-}" ]; then
  echo "== using the model in AVX_MODEL_DIR=$AVX_MODEL_DIR"
elif "$avx" model fetch; then
  echo "== using the default model ($("$avx" model path))"
else
  cat >&2 <<MSG

== The CLAP model could not be downloaded (see the error above). To use real weights, either
==   - run \`target/release/avx model fetch\` on a machine with network access, or
==   - copy a model directory in the Hugging Face/Xenova layout here and set AVX_MODEL_DIR=/path/to/it
==     (for example Xenova/clap-htsat-unfused: config.json, preprocessor_config.json, tokenizer.json, onnx/),
==   then run this script again.
== Continuing with tests/fixtures/tiny-clap, a tiny RANDOM-WEIGHT model: the pipeline runs end to end,
== but the scores and rankings below mean nothing.

MSG
  export AVX_MODEL_DIR="$PWD/tests/fixtures/tiny-clap"
fi

set -x
"$avx" index examples/audio
"$avx" info
"$avx" similar examples/audio/kick_808.wav -k 5
"$avx" search "rain on a tin roof" -k 3
"$avx" dupes --threshold 0.97 || true   # exit 1 means: no duplicates found
"$avx" cluster -k 3 --show 3
"$avx" export --format audiovector "$work/export"
"$avx" verify
set +x
echo "== done: index in $AVX_INDEX, one JSON per file in $work/export"
