#!/usr/bin/env bash
# The whole test suite: installs ONNX Runtime for this user if missing (scripts/setup-ort.sh), then runs every
# test of the workspace (unit, integration, golden parity, CLI, doc tests). Needs Rust and python3 with pip.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-ort.sh
cargo test --workspace --locked "$@"
