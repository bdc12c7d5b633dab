"""A handler for simserve serve's tests: echoes its input; ``sleep`` seconds first, ``fail`` raises,
``stream`` yields that many chunks (a generator handler)."""

import time


def _chunks(n, inp):
    for i in range(n):
        time.sleep(inp.get("chunk_sleep", 0.05))
        yield {"chunk": i}


def handler(job):
    inp = job["input"]
    if not isinstance(inp, dict):
        return {"echo": inp, "id": job["id"]}
    if inp.get("fail"):
        raise ValueError("asked to fail")
    if inp.get("sleep"):
        time.sleep(float(inp["sleep"]))
    if inp.get("stream"):
        return _chunks(int(inp["stream"]), inp)
    return {"echo": inp, "id": job["id"]}
