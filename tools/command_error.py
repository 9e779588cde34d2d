"""The error the wrappers around helm and tofu raise when the tool exits non-zero.

    from tools.command_error import CommandError
    raise CommandError("helm", command, result.returncode, result.stderr)

It keeps the command, the exit status and what the tool printed, so a caller (a test, a check) can
show the tool's own message, such as a failed schema rule or variable validation.
"""

from __future__ import annotations


class CommandError(RuntimeError):
    """`name` (helm, tofu plan) exited `returncode`; `output` is what it printed."""

    def __init__(self, name: str, command: list[str], returncode: int, output: str) -> None:
        self.command = command
        self.returncode = returncode
        self.output = output
        super().__init__(f"{name} exited {returncode}: {output.strip()}")
