"""Local processes: free loopback ports and awaiting a condition (a local Ray's dashboard port,
Serve's HTTP ingress, a server a test started, the e2e cluster)."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def free_port() -> int:
    """A loopback port that is free now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(
    condition: Callable[[], T],
    timeout: float,
    what: str,
    *,
    interval: float = 0.5,
    alive: Callable[[], None] | None = None,
    detail: Callable[[], str] | None = None,
    retry_errors: bool = True,
) -> T:
    """Poll `condition` until it returns something truthy, and return that. An exception from the
    condition counts as "not yet" (the last one is reported), or, with retry_errors=False, ends the
    wait (a condition that raises once what is awaited can no longer happen). `alive` runs each round
    and raises when what is awaited can no longer happen (a process died); on timeout, TimeoutError
    names `what` and appends `detail()`. The one poller of the package, the tools and the tests."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            value = condition()
            if value:
                return value
        except Exception as err:  # polled: a failure now may be success later
            if not retry_errors:
                raise
            last_error = err
        if alive:
            alive()
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    message = f"timed out after {timeout:.0f} s waiting for {what} (last error: {last_error})"
    raise TimeoutError(f"{message}\n{detail()}" if detail else message)
