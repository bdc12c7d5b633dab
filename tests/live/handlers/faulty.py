"""A handler that misbehaves on purpose: job ``j`` does what ``SIMSERVE_TEST_FAULTS`` says at index ``j``.

``SIMSERVE_TEST_FAULTS`` is a comma-separated plan (the workers inherit it from the test's
environment); jobs past its end, and ``ok``, return normally. The faults: ``raise`` (the handler
raises), ``hang`` (sleeps far past any execution timeout), ``exit`` (the process exits at once,
``os._exit``), ``print`` (megabytes on stdout and stderr, some of it looking like protocol
lines), ``nonjson`` (returns something JSON cannot encode) and ``alloc`` (allocates and touches
memory until the allocation fails; refuses to start without a memory bound, so a broken bound
fails the test instead of the host).
"""

import os
import resource
import sys
import time

MIB = 1 << 20


def _fault(job):
    plan = os.environ.get("SIMSERVE_TEST_FAULTS", "").split(",")
    j = int(job["input"].get("job", -1))
    return plan[j] if 0 <= j < len(plan) else "ok"


def handler(job):
    fault = _fault(job)
    if fault == "raise":
        raise RuntimeError(f"boom in job {job['input'].get('job')}")
    if fault == "hang":
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
