"""``simserve serve``: a local endpoint with the platform's REST API, on the live executor.

Real clients (the ``runpod`` SDK, plain HTTP) send jobs over ``/v2/{endpoint_id}/...``; each job
enters the one endpoint core (``simserve.endpoint``) as an arrival of an open run, runs on real
workers started by the scenario's policy (``simserve.live``), and its answer is read back from
the core's records. Modules: ``jobs`` (job ids, inputs, outputs, answers, result retention and
health: no HTTP), ``api`` (routes, auth, errors on aiohttp), ``limits`` (the platform's rate limits
and policy bounds), ``webhooks`` (completion POSTs with retries), ``dashboard`` (the page at ``/``
and its data), ``trace`` (the recorded arrivals as a trace and a scenario to plan from), ``server``
(``ServeSession``: the executor, the HTTP server and their lifecycle on one asyncio loop). No
platform rule here: cancel, retry, purge and per-job policy are ``simserve.endpoint.jobops``.
"""
