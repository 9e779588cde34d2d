"""Fixtures every test area shares: free ports, the repository root, and awaiting conditions."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# Shared with `make demo`: the tests use the same helpers the product does.
from ray_aks.processes import free_port, wait_for

from tools.process_group import stop_process_group

__all__ = ["REPO_ROOT", "free_port", "stop_process_group", "wait_for"]

REPO_ROOT = Path(__file__).resolve().parent.parent
_EXIT_STATUS = pytest.StashKey[int]()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config.stash[_EXIT_STATUS] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """End the process with pytest's own status once pytest is done, skipping interpreter teardown.

    Seen in CI: 493 passed, then the process died with SIGSEGV while Python finalized, after every
    report was written (threads that Ray's gRPC core and torch leave in native code race the
    interpreter's teardown). The status pytest computed, failures included, is the one returned.
    """
    status = config.stash.get(_EXIT_STATUS, None)
    if status is None:
        return  # pytest ended early (usage error, collection only): let it exit as it would
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
