#!/usr/bin/env bash
# Install everything the test suite needs from the project's own files, then run it.
# Used verbatim by .ci/run. Safe to re-run: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
# the system packages (apt: podman, chromium) install while pip fills the venv: on a fresh machine
# each takes a minute or more, and they share nothing
setup_log=$(mktemp)
(
  for step in scripts/setup-*.sh; do
    [ -f "$step" ] && bash "$step"
  done
) >"$setup_log" 2>&1 &
setup_pid=$!
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check --no-compile -e '.[test]'
# byte-compile the venv now (PYTHONDONTWRITEBYTECODE may forbid it later, and every worker process would
# then compile what it imports): on all cores and beside the lint, not one file at a time inside pip
# (pip's own compile: 81 s for the install, against 57 s + 18 s here on 2 cores, run beside ruff and mypy)
.venv/bin/python -m compileall -q -j 0 .venv/lib simserve >/dev/null &
compile_pid=$!
# habits: lint and format (ruff, rules in pyproject.toml) and types (mypy on the whole package)
.venv/bin/ruff check simserve tests benchmarks scripts notebooks
.venv/bin/ruff format --check simserve tests benchmarks scripts notebooks
.venv/bin/mypy simserve
wait "$compile_pid" || true
wait "$setup_pid" || true
cat "$setup_log" >&2
rm -f "$setup_log"
# pytest workers (xdist): one per core plus one, since the live, serve and container tests spend most of
# their time waiting on worker processes (on 2 cores: 326 s with 3 workers, 403 s with 2); every test holds
# at 3 workers with a fourth process keeping a core busy. Container tests share one engine (one xdist group).
workers=${SIMSERVE_TEST_WORKERS:-$(($(nproc) + 1))}
exec .venv/bin/python -m pytest -q -p no:cacheprovider -n "$workers" --dist loadgroup "$@"
