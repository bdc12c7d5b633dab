#!/usr/bin/env bash
# Shared by scripts/setup-*.sh: apt_install WHO WHAT PACKAGE... installs Debian packages quietly
# (as root, or with passwordless sudo), running `apt-get update` only when a first try fails.
# Never fails the caller: without apt, root or the packages it prints one line naming WHAT will
# skip and returns 1. Not a setup step itself (scripts/test.sh runs only setup-*.sh).
apt_install() {
  local who=$1 what=$2
  shift 2
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "$who: apt-get not available; $what will skip" >&2
    return 1
  fi
  local sudo=""
  if [ "$(id -u)" != "0" ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; else
      echo "$who: not root and no sudo; $what will skip" >&2
      return 1
    fi
  fi
  local opts="-y -qq --no-install-recommends -o DPkg::Lock::Timeout=180"
  if DEBIAN_FRONTEND=noninteractive $sudo apt-get install $opts "$@" >/dev/null 2>&1; then
    return 0
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq -o DPkg::Lock::Timeout=180 >/dev/null 2>&1 || true
  if ! DEBIAN_FRONTEND=noninteractive $sudo apt-get install $opts "$@" >/dev/null 2>&1; then
    echo "$who: apt-get install $* failed; $what will skip" >&2
    return 1
  fi
}
