"""A native handler whose first two process starts are quick and every later one blocks at import (a start
that never ends until its worker is killed): the crash tests' way to have a worker starting at the kill.

Each start claims the next number in ``$STARTS_DIR`` (an exclusive create, so concurrent starts count
once each). A job sleeps ``input.sleep_s`` (serve) or its drawn ``service_s`` (live)."""

import os
import time
from pathlib import Path

_dir = Path(os.environ["STARTS_DIR"])
_dir.mkdir(parents=True, exist_ok=True)
_n = 0
while True:
    try:
        (_dir / str(_n)).open("x").close()
        break
    except FileExistsError:
        _n += 1
if _n >= 2:
    while True:  # the third start and later: a start that does not end
        time.sleep(0.1)


def handler(job):
    seconds = float(job["input"].get("sleep_s", job["input"].get("service_s", 0.0)))
    time.sleep(seconds)
    return {"slept_s": seconds, "start": _n}
