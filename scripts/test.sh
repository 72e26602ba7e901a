#!/usr/bin/env bash
# The whole test suite: installs ONNX Runtime for this user if missing (scripts/setup-ort.sh) and headless
# Chromium with its WebDriver for the browser tests of `avx serve` (scripts/setup-chromium.sh, apt as root), then
# runs every test of the workspace (unit, integration, golden parity, CLI, server API, browser, doc tests). Needs
# Rust and python3 with pip.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-ort.sh
scripts/setup-chromium.sh
# Every package of Cargo.lock, other platforms' too: tests/deps.rs reads them all (`cargo metadata --offline`), and a
# build downloads only this platform's.
cargo fetch --locked
cargo test --workspace --locked "$@"
