"""A handler that misbehaves on purpose: job ``j`` does what ``SIMSERVE_TEST_FAULTS`` says at index ``j``.

``SIMSERVE_TEST_FAULTS`` is a comma-separated plan (the workers inherit it from the test's
environment); jobs past its end, and ``ok``, return normally. The faults: ``raise`` (the handler
raises), ``hang`` (sleeps far past any execution timeout), ``exit`` (the process exits at once,
``os._exit``), ``print`` (megabytes on stdout and stderr, some of it looking like protocol
lines), ``nonjson`` (returns something JSON cannot encode) and ``alloc`` (allocates and touches
memory until the allocation fails; refuses to start without a memory bound, so a broken bound
fails the test instead of the host), ``fork`` (starts a ``multiprocessing`` child that sleeps for
an hour and returns), ``grandchild`` (starts a sleeper in a session of its own and returns),
``forkexit`` (a child that holds the worker's pipes for an hour, then the worker exits),
``big`` (returns 20 MB), ``huge`` (returns more than a worker can deliver) and ``env`` (writes its
environment to ``env.json`` in ``SIMSERVE_TEST_PID_DIR``). The pids of the
processes started are written as files into ``SIMSERVE_TEST_PID_DIR`` when it is set, and a ``hang``
job writes ``hang-J`` there as it starts. With
``SIMSERVE_TEST_EXIT_EVERY=n`` a worker process exits (``os._exit(9)``) on every n-th job it gets,
whatever the plan says (a poison pattern: the job is retried on another worker).
"""

import multiprocessing
import os
import resource
import subprocess
import sys
import time

MIB = 1 << 20


def _fault(job):
    plan = os.environ.get("SIMSERVE_TEST_FAULTS", "").split(",")
    j = int(job["input"].get("job", -1))
    return plan[j] if 0 <= j < len(plan) else "ok"


def _sleep_hour():
    time.sleep(3600)


def _child():
    """A forked child that sleeps for an hour, holding every pipe of the worker."""
    child = multiprocessing.get_context("fork").Process(target=_sleep_hour, daemon=False)
    child.start()
    return child.pid


def _note(name):
    where = os.environ.get("SIMSERVE_TEST_PID_DIR")
    if where:
        with open(os.path.join(where, str(name)), "w") as f:
            f.write(str(name))


JOBS_SEEN = [0]


def handler(job):
    every = int(os.environ.get("SIMSERVE_TEST_EXIT_EVERY", "0") or 0)
    JOBS_SEEN[0] += 1
    if every and JOBS_SEEN[0] % every == 0:
        os._exit(9)
    fault = _fault(job)
    if fault == "fork":
        _note(_child())
    if fault == "grandchild":
        code = "import time; time.sleep(3600)"
        sleeper = subprocess.Popen(
            [sys.executable, "-c", code], start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL
        )
        _note(sleeper.pid)
    if fault == "forkexit":
        _note(_child())
        os._exit(7)
    if fault == "env":
        import json

        with open(os.path.join(os.environ["SIMSERVE_TEST_PID_DIR"], "env.json"), "w") as f:
            json.dump(dict(os.environ), f)
    if fault == "big":
        return {"blob": "b" * (20 << 20)}
    if fault == "huge":
        return {"blob": "h" * (64 << 20)}
    if fault == "raise":
        raise RuntimeError(f"boom in job {job['input'].get('job')}")
    if fault == "hang":
        _note(f"hang-{job['input'].get('job')}")  # it started (the signal test waits for three)
        time.sleep(3600)
    if fault == "exit":
        os._exit(7)
    if fault == "print":
        for _ in range(4):
            sys.stdout.write("x" * MIB + "\n")
            sys.stderr.write("y" * MIB + "\n")
        sys.stdout.write("\x1e{not a protocol line\n")
        sys.stdout.write("z" * (3 * MIB))  # no newline at all
        sys.stdout.flush()
        sys.stderr.flush()
    if fault == "nonjson":
        return {"value": object()}
    if fault == "alloc":
        limit = resource.getrlimit(resource.RLIMIT_DATA)[0]
        if limit == resource.RLIM_INFINITY or limit > 4 << 30:
            raise RuntimeError(f"refusing to allocate without a small memory bound (RLIMIT_DATA {limit})")
        chunks = []
        while True:
            chunks.append(bytearray(b"\x01") * (32 * MIB))  # written, so really resident
    return {"ok": job["input"].get("job"), "fault": fault}
