#!/usr/bin/env bash
# Installs the ONNX Runtime shared library that avx loads at run time, taken from the `onnxruntime` wheel on PyPI.
#
#   scripts/setup-ort.sh            CPU build (Linux x86-64/aarch64; on macOS it includes the CoreML provider)
#   scripts/setup-ort.sh --gpu      NVIDIA CUDA build (`onnxruntime-gpu`; Linux/Windows, needs CUDA 12 and cuDNN 9)
#
# Needs only python3 with pip. No root, and the system Python is not modified: the wheel is downloaded with
# `pip download` into a temporary directory and only the library files are copied out. They go to
# $AVX_HOME/onnxruntime/<version>/, else $XDG_DATA_HOME/avx/onnxruntime/<version>/, else
# ~/.local/share/avx/onnxruntime/<version>/, which is where avx looks after ORT_DYLIB_PATH.
set -euo pipefail

version="1.31.1"
package="onnxruntime"
for arg in "$@"; do
  case "$arg" in
    --gpu) package="onnxruntime-gpu" ;;
    --version=*) version="${arg#--version=}" ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "setup-ort.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

if [ -n "${AVX_HOME:-}" ]; then base="$AVX_HOME"
elif [ -n "${XDG_DATA_HOME:-}" ]; then base="$XDG_DATA_HOME/avx"
else base="$HOME/.local/share/avx"; fi
dest="$base/onnxruntime/$version"

case "$(uname -s)" in
  Darwin) lib="libonnxruntime.dylib" ;;
  MINGW*|MSYS*|CYGWIN*) lib="onnxruntime.dll" ;;
  *) lib="libonnxruntime.so" ;;
esac

if [ -f "$dest/$lib" ] && [ -f "$dest/.package" ] && [ "$(cat "$dest/.package")" = "$package==$version" ]; then
  echo "ONNX Runtime $version ($package) already installed in $dest"
  exit 0
fi

python=""
for candidate in python3 python; do
  if command -v "$candidate" >/dev/null 2>&1; then python="$candidate"; break; fi
done
[ -n "$python" ] || { echo "setup-ort.sh: python3 with pip is needed to fetch the onnxruntime wheel" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "Downloading $package==$version from PyPI ..."
"$python" -m pip download --quiet --no-deps --only-binary=:all: --dest "$tmp" "$package==$version"

wheel="$(ls "$tmp"/*.whl | head -n 1)"
mkdir -p "$dest"
# Copy the shared libraries out of the wheel (onnxruntime/capi/), and name the main one as avx expects.
"$python" - "$wheel" "$dest" "$lib" <<'PY'
import os, sys, zipfile
wheel, dest, lib = sys.argv[1:4]
main = None
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        base = os.path.basename(name)
        if not name.startswith("onnxruntime/capi/"):
            continue
        if not (base.startswith("libonnxruntime") or base.startswith("onnxruntime") and base.endswith(".dll")):
            continue
        if base.endswith(".py") or base.endswith(".pyd"):
            continue
        target = os.path.join(dest, base)
        with z.open(name) as src, open(target, "wb") as out:
            out.write(src.read())
        if base.startswith(lib.split(".")[0]) and "providers" not in base and main is None:
            main = base
if main is None:
    sys.exit(f"no ONNX Runtime library found in {wheel}")
if main != lib:
    link = os.path.join(dest, lib)
    if os.path.lexists(link):
        os.remove(link)
    os.symlink(main, link)
print(f"installed {main}")
PY
echo "$package==$version" > "$dest/.package"
echo "ONNX Runtime $version installed in $dest"
echo "avx finds it there automatically (ORT_DYLIB_PATH overrides it)."
