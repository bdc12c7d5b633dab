"""Echo handler: returns its input. Runs under the native protocol (``simserve live --handler``)."""


def handler(job):
    return {"echo": job["input"]}
