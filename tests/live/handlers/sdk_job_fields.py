"""A Runpod-SDK handler that validates its input with ``rp_validator`` (an invalid one returns
``{"error": errors}``, as the SDK's docs show), and otherwise returns the job's ``s3Config``."""

import runpod
from runpod.serverless.utils.rp_validator import validate

SCHEMA = {"n": {"type": int, "required": True}}


def handler(job):
    checked = validate(job["input"], SCHEMA)
    if "errors" in checked:
        return {"error": checked["errors"]}
    return {"n": checked["validated_input"]["n"], "s3Config": job.get("s3Config")}


runpod.serverless.start({"handler": handler})
