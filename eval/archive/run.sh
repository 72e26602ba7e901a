#!/usr/bin/env bash
# One command for the broadcast-archive evaluation (eval/archive/README.md): installs the Debian packages it
# needs (as root, when missing), builds avx, builds the synthetic archive, indexes it with the committed aiSFX
# model and prints the tables. Extra arguments go to run_archive_eval.py, e.g. --programmes 10.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$here/../.."
pkgs=(sox libsox-fmt-all ffmpeg espeak-ng sound-theme-freedesktop extremetuxracer-data)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
    if [ "$(id -u)" = 0 ]; then
        apt-get install -y --no-install-recommends "${missing[@]}"
    else
        echo "missing Debian packages: ${missing[*]} (run: sudo apt-get install ${missing[*]})" >&2
        exit 2
    fi
fi
"$root/scripts/setup-ort.sh" >/dev/null
cargo build --release --locked -p avx-cli --manifest-path "$root/Cargo.toml"
exec python3 "$here/run_archive_eval.py" --avx "$root/target/release/avx" --model-dir "$root/models/aisfx" "$@"
