"""Fixtures every test area shares: free ports, the repository root, awaiting conditions, and the
session's real parts (one local Ray, one MLflow server) for every package that runs workloads."""

from __future__ import annotations

import json
import os
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

# Shared with `make demo`: the tests use the same helpers the product does.
from ray_aks.processes import free_port, wait_until

from tests.ray_session import start_test_ray
from tools import mlflow_server as local_mlflow
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


# One Ray and one MLflow server for the whole session (the reliability and workloads packages): each
# start costs tens of seconds on 2 cores. Test modules delete what they deploy (serving_fixtures).
@pytest.fixture(scope="session")
def ray_local() -> Iterator[None]:
    """A real local Ray with 2 CPUs. The dashboard stays on: Ray Train's controller polls its state API."""
    import ray

    start_test_ray()
    yield
    ray.shutdown()


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `mlflow server` on loopback with a SQLite backend (the one `make demo` runs); yields its
    tracking URI and stops it, with its helper processes, after the session."""
    with local_mlflow.mlflow_server(tmp_path_factory.mktemp("mlflow-server")) as server:
        server.wait_healthy(timeout=900)
        yield server.uri


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
