"""The cluster's daemons as process groups that outlive `make e2e-up`: each starts in its own session
with its log under .cache/e2e/logs and its pid under .cache/e2e/pids, so `down` (or the next `up`)
stops exactly those groups and nothing else on the machine."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tools.e2e.layout import Layout
from tools.process_group import stop_group


def start(layout: Layout, name: str, command: list[str], env: dict[str, str] | None = None) -> int:
    layout.logs.mkdir(parents=True, exist_ok=True)
    layout.pids.mkdir(parents=True, exist_ok=True)
    with (layout.logs / f"{name}.log").open("ab") as log:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
    (layout.pids / name).write_text(str(proc.pid))
    return proc.pid


def running(layout: Layout, name: str) -> bool:
    pid = _pid(layout.pids / name)
    return pid is not None and _alive(pid)


def log_tail(layout: Layout, name: str, lines: int = 30) -> str:
    path = layout.logs / f"{name}.log"
    if not path.exists():
        return f"(no log at {path})"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def stop(layout: Layout, name: str, grace_s: float = 20) -> None:
    """SIGTERM the group, SIGKILL what is left after `grace_s`; forget the pid."""
    pid_file = layout.pids / name
    pid = _pid(pid_file)
    if pid is not None:
        stop_group(pid, grace_s)
    pid_file.unlink(missing_ok=True)


def names(layout: Layout) -> list[str]:
    return sorted(p.name for p in layout.pids.glob("*")) if layout.pids.exists() else []


def _pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (our own child, not yet reaped) is not running.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False
