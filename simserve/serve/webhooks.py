"""Webhooks: a job's answer POSTed to the URL its request gave, when the job ends.

Owns ``Webhooks``: one aiohttp client session for the run; each delivery is a task that POSTs the
job's ``/status`` answer as JSON and, on a connection error or a status other than 2xx, tries
again up to ``retries`` more times ``delay_s`` apart (the platform: 2 more, 10 s apart). At most
``MAX_PENDING`` deliveries wait at once (later ones are counted as dropped, never queued without
bound); ``close`` cancels what is left. Counts for the summary: sent, failed, dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aiohttp

#: deliveries in flight at most (a receiver that never answers cannot hold the run's memory)
MAX_PENDING = 10_000
#: one POST's time limit (s)
POST_TIMEOUT_S = 10.0


class Webhooks:
    """Completion POSTs for one serve run."""

    def __init__(self, retries: int = 2, delay_s: float = 10.0) -> None:
        self.retries = retries
        self.delay_s = delay_s
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.counts = {"sent": 0, "failed": 0, "dropped": 0, "attempts": 0}

    def send(self, url: str, body: dict[str, Any]) -> None:
        """Deliver ``body`` to ``url`` in the background."""
        if len(self._tasks) >= MAX_PENDING:
            self.counts["dropped"] += 1
            return
        task = asyncio.ensure_future(self._deliver(url, body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, url: str, body: dict[str, Any]) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=POST_TIMEOUT_S))
        for attempt in range(self.retries + 1):
            if attempt:
                await asyncio.sleep(self.delay_s)
            self.counts["attempts"] += 1
            try:
                async with self._session.post(url, json=body) as resp:
                    if 200 <= resp.status < 300:
                        self.counts["sent"] += 1
                        return
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError, OSError):
                pass
        self.counts["failed"] += 1

    async def close(self, grace_s: float = 2.0) -> None:
        """Let deliveries in flight finish for up to ``grace_s``, then cancel the rest."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=grace_s)
        for t in list(self._tasks):
            t.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            with contextlib.suppress(Exception):
                await self._session.close()
