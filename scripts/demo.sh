#!/usr/bin/env bash
# The main job on the example library: builds avx, indexes examples/audio, and runs the commands a user would.
#
# The model: AVX_MODEL_DIR if set (a local model directory), else the default CLAP model in the cache
# (`avx model fetch` downloads it). When CLAP cannot be had (no network, no local copy), the demo says exactly
# what to do and runs on aiSFX instead, the sound-effects model committed in models/aisfx (installed by
# `avx model fetch aisfx`, no download): real similarity, duplicates, clusters and export, everything but text
# search, which needs CLAP's text tower.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-ort.sh
cargo build --release --locked -p avx-cli
avx="$PWD/target/release/avx"
work="${AVX_DEMO_DIR:-$PWD/target/demo}"
rm -rf "$work"; mkdir -p "$work"
export AVX_INDEX="$work/index"

text=yes
if [ -n "${AVX_MODEL_DIR:-}" ]; then
  echo "== using the model in AVX_MODEL_DIR=$AVX_MODEL_DIR"
elif "$avx" model fetch; then
  echo "== using the default model ($("$avx" model path))"
else
  cat >&2 <<MSG

== The CLAP model could not be downloaded (see the error above). To use CLAP, either
==   - run \`target/release/avx model fetch\` on a machine with network access, or
==   - copy a model directory in the Hugging Face/Xenova layout here and set AVX_MODEL_DIR=/path/to/it
==     (for example Xenova/clap-htsat-unfused: config.json, preprocessor_config.json, tokenizer.json, onnx/),
==   then run this script again.
== Continuing with aiSFX (models/aisfx, committed in this repository): real sound-effects embeddings, so the
== similarity, duplicate and cluster results below are meaningful; it has no text tower, so no text search.

MSG
  "$avx" model fetch aisfx
  export AVX_MODEL=aisfx
  text=no
fi

set -x
"$avx" index examples/audio
"$avx" info
"$avx" similar examples/audio/kick_808.wav -k 5
if [ "$text" = yes ]; then
  "$avx" search "rain on a tin roof" -k 3
fi
"$avx" dupes || true   # exit 1 means: no duplicates found (the threshold is the model family's default)
"$avx" cluster -k 3 --show 3
"$avx" export --format audiovector "$work/export"
"$avx" verify
set +x
if [ "$text" = no ]; then
  cat <<MSG
== Text search (\`avx search "rain on a tin roof"\`), \`avx tag\` and \`avx cluster --label\` need CLAP, whose
== text tower aiSFX lacks: run \`target/release/avx model fetch\` with network access (or set AVX_MODEL_DIR to a
== local Xenova/clap-htsat-unfused copy), then index into a new --index and search.
MSG
fi
echo "== done: index in $AVX_INDEX, one JSON per file in $work/export"
