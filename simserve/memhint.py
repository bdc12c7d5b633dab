"""How a run asks the kernel for memory: numpy's transparent-huge-page hint off for the span of a run.

Owns ``small_pages()``. numpy marks every array of 4 MiB or more with ``madvise(MADV_HUGEPAGE)``.
Where the kernel's ``transparent_hugepage/defrag`` is ``madvise`` (the default of most distributions),
each first touch of such an array may then stall the run while the kernel compacts memory for a 2 MiB
page: on a machine whose memory is fragmented (up for hours, as these are) that system time was most of
what a run spends outside its event loop (bench_core case A, 0.9M jobs, 2026-12-07: 1.8-2.1 s of system
time with the hint, 0.45-0.54 s without; docs/speed.md). A run's big arrays (job records, worker
intervals, their sorts and billing) are written once and read a few times, which is where huge pages
gain least, so a run goes without the hint and the caller's setting comes back when it ends.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager


def _hint_switch() -> Callable[[bool], bool] | None:
    """numpy's switch for the hint (``_set_madvise_hugepage(enabled)``, which returns the setting before),
    or None where this numpy has none (it is private: numpy 2 keeps it in ``_core``, numpy 1 in ``core``)."""
    for path in ("numpy._core.multiarray", "numpy.core.multiarray"):
        try:
            module = importlib.import_module(path)
        except ImportError:
            continue
        switch = getattr(module, "_set_madvise_hugepage", None)
        if callable(switch):
            return switch  # type: ignore[no-any-return]
    return None


@contextmanager
def small_pages() -> Iterator[None]:
    """Within the block numpy does not ask for huge pages; the setting before it is restored after."""
    switch = _hint_switch()
    if switch is None:
        yield
        return
    before = bool(switch(False))
    try:
        yield
    finally:
        switch(before)
