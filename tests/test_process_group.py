"""tools/process_group.py, the one stopper: a real process group, its children included."""

from __future__ import annotations

import subprocess
import sys
import time

from tools.process_group import group_alive, stop_process_group

# A parent that starts a child in its group and waits; with IGNORE, both ignore SIGTERM.
SCRIPT = """
import signal, subprocess, sys, time
if sys.argv[1] == "ignore":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = [sys.executable, "-c", "import signal, sys, time; "
         + ("signal.signal(signal.SIGTERM, signal.SIG_IGN); " if sys.argv[1] == "ignore" else "")
         + "print('child', flush=True); time.sleep(300)"]
subprocess.Popen(child)
time.sleep(300)
"""


def started(mode: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, mode], start_new_session=True, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "child"
    return proc


def test_the_server_and_every_process_it_spawned_stop() -> None:
    proc = started("term")
    stop_process_group(proc, grace_s=20)
    assert proc.returncode is not None
    assert not group_alive(proc.pid)


def test_a_group_that_ignores_sigterm_is_killed_after_the_grace() -> None:
    proc = started("ignore")
    began = time.monotonic()
    stop_process_group(proc, grace_s=1)
    assert not group_alive(proc.pid)
    assert time.monotonic() - began >= 1
