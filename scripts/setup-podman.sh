#!/usr/bin/env bash
# Install rootful podman + runc + Debian's docker-registry + busybox-static for the container tests
# (tests/containers, `simserve live --runtime docker` on a machine without Docker).
# Idempotent and quick when already done; never fails the test run: without apt or root it prints
# one line and the container tests skip with a reason. Writes its config under
# $SIMSERVE_PODMAN_DIR (default $XDG_RUNTIME_DIR/simserve or ${TMPDIR:-/tmp}/simserve-<uid>, a directory
# private to the user, mode 0700; one of another user's is refused), never in /etc: containers.conf (runc, and
# ulimits this machine can grant, see ../shared/reference/live-runtimes.md) and registries.conf
# (the loopback registry 127.0.0.1:5000 as insecure). simserve.live.engine_service writes the same
# files when they are missing. Users with a working Docker engine need none of this.
set -u
if [ -n "${XDG_RUNTIME_DIR:-}" ]; then DEFAULT_WORK="$XDG_RUNTIME_DIR/simserve"; else DEFAULT_WORK="${TMPDIR:-/tmp}/simserve-$(id -u)"; fi
WORK=${SIMSERVE_PODMAN_DIR:-$DEFAULT_WORK}
PKGS="podman runc docker-registry busybox-static"

have_all() {
  command -v podman >/dev/null 2>&1 && command -v runc >/dev/null 2>&1 \
    && command -v docker-registry >/dev/null 2>&1 && [ -x /bin/busybox ] && have_policy
}

# image pulls and loads need a signature policy; a base image may ship podman without it
have_policy() {
  [ -f /etc/containers/policy.json ] || [ -f "${HOME:-/nonexistent}/.config/containers/policy.json" ]
}

if ! have_all; then
  . "$(dirname "$0")/apt-install.sh"
  # podman's recommends pull in crun/slirp etc.; we need conmon, netavark and runc explicitly
  apt_install setup-podman "the container tests" $PKGS conmon netavark aardvark-dns uidmap fuse-overlayfs iptables \
    || exit 0
  if ! have_policy; then
    # the package is installed but its conffile was deleted: dpkg restores it only when asked
    apt_install setup-podman "the container tests" --reinstall -o Dpkg::Options::=--force-confmiss \
      golang-github-containers-common || true
  fi
  if ! have_policy; then
    echo "setup-podman: /etc/containers/policy.json is missing; image loads fail and the container tests skip" >&2
  fi
  # the docker-registry postinst cannot start a service without systemd; simserve starts its own
fi

mkdir -p -m 700 "$WORK" || exit 0
if [ -L "$WORK" ] || [ "$(stat -c %u "$WORK")" != "$(id -u)" ]; then
  echo "setup-podman: $WORK is a symbolic link or another user's; remove it or set SIMSERVE_PODMAN_DIR" >&2
  exit 0
fi
chmod 700 "$WORK"
NOFILE=$(ulimit -Hn)
[ "$NOFILE" = unlimited ] && NOFILE=1048576
NPROC=$(ulimit -Hu)
if [ "$NPROC" = unlimited ] || [ "$NPROC" -gt 32768 ]; then NPROC=32768; fi
cat > "$WORK/containers.conf.new" <<CONF
[containers]
default_ulimits = ["nofile=${NOFILE}:${NOFILE}", "nproc=${NPROC}:${NPROC}"]
[engine]
runtime = "runc"
CONF
cat > "$WORK/registries.conf.new" <<'CONF'
unqualified-search-registries = []
[[registry]]
location = "127.0.0.1:5000"
insecure = true
CONF
for f in containers.conf registries.conf; do
  if cmp -s "$WORK/$f.new" "$WORK/$f"; then rm -f "$WORK/$f.new"; else mv -f "$WORK/$f.new" "$WORK/$f"; fi
done

# smoke check (quiet): the engine answers with this config
if ! CONTAINERS_CONF="$WORK/containers.conf" CONTAINERS_REGISTRIES_CONF="$WORK/registries.conf" \
    podman info >/dev/null 2>&1; then
  echo "setup-podman: podman installed but 'podman info' fails; the container tests will skip" >&2
fi
exit 0
