"""One way to wait for the cluster: poll a condition until it holds, or fail saying what was awaited."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T],
    timeout: float,
    what: str,
    *,
    interval: float = 0.5,
    alive: Callable[[], None] | None = None,
    detail: Callable[[], str] | None = None,
) -> T:
    """Poll `condition` until it returns something truthy, and return that. An exception from the
    condition counts as "not yet" (the last one is reported). `alive` runs each round and raises when
    what is awaited can no longer happen (a process died); on timeout, TimeoutError names `what` and
    appends `detail()`."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            value = condition()
            if value:
                return value
        except Exception as err:  # polled: a failure now may be success later
            last_error = err
        if alive:
            alive()
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    message = f"timed out after {timeout:.0f} s waiting for {what} (last error: {last_error})"
    raise TimeoutError(f"{message}\n{detail()}" if detail else message)
