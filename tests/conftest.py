"""Fixtures every test area shares: free ports, the repository root, and awaiting conditions."""

from __future__ import annotations

import json
import os
import sys
from collections import defaultdict
from pathlib import Path

import pytest

# Shared with `make demo`: the tests use the same helpers the product does.
from ray_aks.processes import free_port, wait_until

from tools.process_group import stop_process_group

__all__ = ["REPO_ROOT", "free_port", "stop_process_group", "wait_until"]

REPO_ROOT = Path(__file__).resolve().parent.parent
_EXIT_STATUS = pytest.StashKey[int]()
# Each test's seconds (setup + call + teardown), for `make test`'s table (tools/test_times.py): written
# to $TEST_TIMES_DIR when make test's runner sets it.
_DURATIONS: defaultdict[str, float] = defaultdict(float)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _DURATIONS[report.nodeid] += report.duration


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config.stash[_EXIT_STATUS] = int(exitstatus)
    directory = os.environ.get("TEST_TIMES_DIR")
    if directory and _DURATIONS:
        Path(directory).mkdir(parents=True, exist_ok=True)
        (Path(directory) / f"pytest-{os.getpid()}.json").write_text(json.dumps(_DURATIONS, indent=1))


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
