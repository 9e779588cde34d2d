"""Running the repository's make from a test: the image, e2e and infra tests check the commands the
Makefile really runs (`make -n`) and run its targets."""

from __future__ import annotations

import os
import subprocess

from tests.conftest import REPO_ROOT


def make(
    *args: str, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run make in the repository, with `env` on top of this process's environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS"))} | (env or {})
    result = subprocess.run(
        ["make", "--no-print-directory", *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    if check:
        assert result.returncode == 0, f"make {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def commands(output: str) -> list[str]:
    """`make -n` output as one command a line (backslash continuations joined)."""
    return [" ".join(line.split()) for line in output.replace("\\\n", " ").splitlines() if line.strip()]
