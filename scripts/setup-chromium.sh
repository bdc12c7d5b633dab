#!/usr/bin/env bash
# Install Debian's chromium (headless screenshots of report.html in tests/report).
# Idempotent and quick when chromium is already present; never fails the test run:
# without apt (or without root) it prints one line and the Chromium test skips.
set -u
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-chromium: apt-get not available; the HTML screenshot test will skip" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    echo "setup-chromium: not root and no sudo; the HTML screenshot test will skip" >&2
    exit 0
  fi
fi
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1; then
  $SUDO apt-get update -qq >/dev/null 2>&1 || true
  $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null 2>&1 \
    || echo "setup-chromium: apt-get install chromium failed; the HTML screenshot test will skip" >&2
fi
exit 0
