#!/usr/bin/env bash
# Installs headless Chromium and its WebDriver (Debian's `chromium` and `chromium-driver`) for the browser tests of
# avx-server (crates/server/tests/browser.rs). Does nothing when both are on PATH. Needs root (or sudo) on Debian
# or Ubuntu; non-interactive. Another apt process holding the dpkg lock is waited for (up to 10 minutes).
set -euo pipefail

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-chromium.sh: chromium and chromedriver are missing and apt-get is not available:" \
       "install Chromium and a matching chromedriver and put both on PATH" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" != "0" ]; then sudo="sudo -n"; fi
export DEBIAN_FRONTEND=noninteractive
apt() { $sudo apt-get -o DPkg::Lock::Timeout=600 -y -q "$@"; }
apt update >/dev/null
apt install --no-install-recommends chromium chromium-driver >/dev/null
command -v chromium >/dev/null && command -v chromedriver >/dev/null
