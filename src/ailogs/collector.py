"""The cyclic garbage collector, tuned for a service that builds many short-lived objects.

A `/query` answer is thousands of small dicts and records, an `/analyze` window
a hundred thousand; none of them is in a reference cycle, so reference counting
frees them. With CPython's defaults the collector still runs every 700 new
containers and, now and then, rescans every object the process holds (the
imported libraries alone are hundreds of thousands). Measured on a 5,000-line
answer, those scans cost more than the decoding itself.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# Young-generation threshold for the service. Higher values showed no latency gain
# once start-up objects are frozen, while garbage in reference cycles (exceptions
# with their frames, say) lived longer: 1,000 /query calls ended at 589 MB RSS with
# 50,000, 442 MB with 10,000 and 423 MB with CPython's 700.
SERVICE_GEN0_THRESHOLD = 10_000


def tune_for_service() -> None:
    """Move everything alive at start-up out of the collector's sight; collect less often.

    Called once by `ailogs serve` after the app is built: start-up objects live as
    long as the process, so scanning them again on every full collection is waste.
    """
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(SERVICE_GEN0_THRESHOLD, gen1, gen2)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the collector while a large batch of acyclic objects is built and used.

    Reference counting still frees them; the collector resumes (if it was
    running) as soon as the block ends.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
