"""An application written for Runpod Serverless with the ``runpod`` SDK: nothing here knows simserve.

Point it at ``simserve serve`` with environment variables only::

    RUNPOD_ENDPOINT_BASE_URL=http://127.0.0.1:8000/v2 RUNPOD_API_KEY=... python examples/clients/my_app.py

(on the platform, leave RUNPOD_ENDPOINT_BASE_URL unset and set ENDPOINT_ID to your endpoint's id).
It sends a burst of requests the way a web backend would — a few synchronous calls, asynchronous
jobs it polls, one it streams, one at low priority and one it gives up on — and prints what came back.
"""

import os
import time

import runpod

runpod.api_key = os.environ["RUNPOD_API_KEY"]
endpoint = runpod.Endpoint(os.environ.get("ENDPOINT_ID", "local"))

# synchronous calls: the answer comes back in the request
for prompt in ("a red bicycle", "a blue boat"):
    print("run_sync ->", endpoint.run_sync({"prompt": prompt}, timeout=120))

# a burst of asynchronous jobs, polled until done
jobs = [endpoint.run({"prompt": f"image {k}"}) for k in range(int(os.environ.get("JOBS", "20")))]
for job in jobs:
    print(job.job_id, job.output(timeout=120))

# streaming: a generator handler's chunks as they come (a plain handler gives its output once)
for chunk in endpoint.run({"prompt": "stream me"}).stream():
    print("chunk ->", chunk)

# a background job at low priority: it runs on a free worker but never makes the endpoint start one
background = endpoint.run({"input": {"prompt": "thumbnail"}, "policy": {"lowPriority": True}})
print("low priority ->", background.output(timeout=120))

# a job we stop waiting for
job = endpoint.run({"prompt": "never mind"})
time.sleep(0.2)
print("cancel ->", job.cancel())

print("health ->", endpoint.health())
print("purge ->", endpoint.purge_queue())
