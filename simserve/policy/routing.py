"""Which free worker takes the next job.

Owns the routing order: the newest-created free worker first (SimFaaS and Lambda do this;
it lets older workers reach their idle timeout). Drivers keep free workers in a heap keyed
by ``order_key`` so each choice is O(log n).
"""

from __future__ import annotations

from collections.abc import Sequence

from simserve.policy.view import WorkerView


class NewestFirst:
    """Route to the free worker created most recently."""

    kind = "newest_first"

    @staticmethod
    def order_key(created_seq: int) -> int:
        """Heap key: smaller is preferred."""
        return -created_seq

    def pick(self, free: Sequence[WorkerView]) -> int | None:
        """The worker id to route to among ``free`` workers, or None when there is none."""
        if not free:
            return None
        return max(free, key=lambda w: w.created_seq).worker_id
