"""Stopping a process group: a local server together with everything it spawned (the MLflow server of
`make demo` and the tests, the servers the chart and image tests run) and the e2e cluster's daemons
(tools/e2e/processes.py). The one stopper of the tools and the tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path


def group_alive(pgid: int) -> bool:
    """Whether any process of group `pgid` runs (a zombie does not)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[-1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _await_group_exit(pgid: int, timeout: float, interval: float) -> None:
    deadline = time.monotonic() + timeout
    while group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(interval)


def stop_group(pgid: int, grace_s: float = 30) -> None:
    """SIGTERM every process of group `pgid`, SIGKILL what is left after `grace_s`; returns once none
    runs (or 10 s after the SIGKILL)."""
    _signal_group(pgid, signal.SIGTERM)
    _await_group_exit(pgid, grace_s, 0.2)
    if group_alive(pgid):
        _signal_group(pgid, signal.SIGKILL)
        _await_group_exit(pgid, 10, 0.1)


def stop_process_group(proc: subprocess.Popen, grace_s: float = 30) -> None:
    """Stop a process started with start_new_session=True (its pid is its group's id) and every
    process it spawned, then reap it."""
    stop_group(proc.pid, grace_s)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)
