"""Sleep handler: busy for the job's pre-drawn service time, so sim and live see the same per-job times.

``simserve live`` puts ``service_s`` (wall seconds, already divided by ``--speed``) and
``scenario_service_s`` in every job's input; both come from the scenario's service distribution
with the run's seed, exactly as the simulator draws them.
"""

import time


def handler(job):
    seconds = float(job["input"].get("service_s", 0.0))
    time.sleep(seconds)
    return {"slept_s": seconds, "job": job["input"].get("job")}
