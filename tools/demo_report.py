"""What `make demo` shows on the terminal: one line when a step starts, one when it ends, a progress
bar for long steps, a table at the end. Everything else this process and its children write (Ray's,
Serve's, MLflow's and the workloads' own log lines) goes to a log file.

The split is made on the file descriptors, not on Python's loggers: Ray's C++ core, the processes it
starts and the lines it forwards from its workers all write to fd 1 and 2, which point at the log
file once `Report.open` has run; the report writes to a duplicate of the terminal's stdout. Bars and
colours only when that is a terminal: a pipe gets plain lines, no ANSI codes.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

BAR_WIDTH = 30
INDENT = "      "


def short_path(path: Path) -> str:
    """`path` relative to the working directory when it is below it (what a user would type)."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


@dataclass
class Step:
    """A running step: `done` prints its result line."""

    report: Report
    number: int
    started: float = field(default_factory=time.perf_counter)
    result: str | None = None

    def done(self, result: str) -> None:
        self.result = result

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started


class Progress:
    """A bar redrawn in place on a terminal; elsewhere a plain line at each quarter (and the end)."""

    def __init__(self, report: Report, label: str, total: int) -> None:
        self.report, self.label, self.total = report, label, total
        self.count = 0
        self.printed_quarter = 0

    def update(self, count: int) -> None:
        count = min(count, self.total)
        if count == self.count:
            return
        self.count = count
        if self.report.tty:
            filled = BAR_WIDTH * count // self.total
            bar = "#" * filled + "-" * (BAR_WIDTH - filled)
            self.report.write(f"\r\033[K{INDENT}{self.label} [{bar}] {count}/{self.total}", newline=False)
            return
        quarter = 4 * count // self.total
        if quarter > self.printed_quarter:
            self.printed_quarter = quarter
            self.report.write(f"{INDENT}{self.label} {count}/{self.total}")

    def close(self) -> None:
        if self.report.tty and self.count:
            self.report.write("\r\033[K", newline=False)


class Report:
    """The terminal side of the demo. `open` sends fd 1 and 2 to `log_path` and keeps the terminal
    for the report; they stay there until the process exits, so that nothing Ray prints while it
    shuts down reaches the terminal."""

    def __init__(self, terminal: TextIO, errors: TextIO, tty: bool, log_path: Path, total_steps: int) -> None:
        self.terminal, self.errors, self.tty = terminal, errors, tty
        self.log_path, self.total_steps = log_path, total_steps
        self.steps = 0

    @classmethod
    def open(cls, log_path: Path, total_steps: int) -> Report:
        sys.stdout.flush()
        sys.stderr.flush()
        terminal = os.fdopen(os.dup(1), "w", buffering=1)
        errors = os.fdopen(os.dup(2), "w", buffering=1)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.close(log_fd)
        sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
        sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)
        return cls(terminal, errors, os.isatty(terminal.fileno()), log_path, total_steps)

    def write(self, text: str, newline: bool = True) -> None:
        self.terminal.write(text + ("\n" if newline else ""))
        self.terminal.flush()

    def bold(self, text: str) -> str:
        return f"\033[1m{text}\033[0m" if self.tty else text

    def log(self, text: str) -> None:
        """A line for the log file only, e.g. the command a step runs."""
        print(f"[demo] {text}", flush=True)

    @contextmanager
    def step(self, title: str) -> Iterator[Step]:
        self.steps += 1
        step = Step(self, self.steps)
        self.write(self.bold(f"[{step.number}/{self.total_steps}] {title}"))
        self.log(f"step {step.number}: {title}")
        yield step
        result = f"{step.result} " if step.result else ""
        self.write(f"{INDENT}{result}({duration(step.seconds)})")
        self.log(f"step {step.number} done: {result}({duration(step.seconds)})")

    @contextmanager
    def progress(self, label: str, total: int) -> Iterator[Progress]:
        bar = Progress(self, label, total)
        try:
            yield bar
        finally:
            bar.close()

    def table(self, title: str, rows: list[tuple[str, str]]) -> None:
        width = max(len(name) for name, _ in rows)
        self.write("")
        self.write(self.bold(title))
        for name, value in rows:
            self.write(f"  {name:<{width}}  {value}")

    def error(self, text: str) -> None:
        self.errors.write(text + "\n")
        self.errors.flush()
