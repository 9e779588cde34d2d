"""Phase timings in a job's log: where the time goes on a small cluster."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

logger = logging.getLogger(__name__)


@contextmanager
def timed(phase: str) -> Iterator[None]:
    """Log how long a phase of a job took (where the time goes on a small cluster)."""
    started = time.perf_counter()
    yield
    logger.info("%s took %.1fs", phase, time.perf_counter() - started)
