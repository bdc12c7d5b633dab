"""A native (no SDK) handler: ``fail`` returns the platform's ``{"error": ...}`` beside other keys,
``errors`` a list of errors, ``refresh`` asks for a fresh worker; otherwise the job's ``s3Config``."""

import os


def handler(job):
    inp = job["input"]
    if inp.get("fail"):
        return {"error": "bad input", "detail": 1}
    if inp.get("errors"):
        return {"error": ["n is a required input."]}
    out = {"pid": os.getpid(), "s3Config": job.get("s3Config")}
    if inp.get("refresh"):
        out["refresh_worker"] = True
    return out
