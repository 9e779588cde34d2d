"""Stopping a local server together with everything it spawned: the MLflow server of `make demo`
and the tests, and the servers the chart and image tests run."""

from __future__ import annotations

import os
import signal
import subprocess


def stop_process_group(proc: subprocess.Popen, grace_s: float = 30) -> None:
    """Stop a process started with start_new_session=True and every process it spawned: SIGTERM,
    then SIGKILL after `grace_s`."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass
