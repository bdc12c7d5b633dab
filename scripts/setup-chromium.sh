#!/usr/bin/env bash
# Install Debian's chromium (headless screenshots of report.html in tests/report).
# Idempotent and quick when chromium is already present; never fails the test run:
# without apt (or without root) it prints one line and the Chromium test skips.
set -u
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  exit 0
fi
. "$(dirname "$0")/apt-install.sh"
apt_install setup-chromium "the HTML screenshot test" chromium fonts-dejavu-core
exit 0
