"""Running code in a new Python interpreter, for checks that depend on what is imported: this test
process has long imported the heavy libraries (Ray, torch, MLflow) the code under test must not."""

from __future__ import annotations

import subprocess
import sys


def run_in_fresh_python(code: str) -> str:
    """Run `code` in a new interpreter of this environment; assert it succeeded; return its stdout."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout
