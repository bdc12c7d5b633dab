"""A handler whose init takes longer than a short run: it sleeps at import (``SIMSERVE_TEST_INIT_S``, 5 s)."""

import os
import time

time.sleep(float(os.environ.get("SIMSERVE_TEST_INIT_S", "5")))


def handler(job):
    return {"ok": True}
