"""Fixtures every test area shares: free ports, the repository root, and awaiting conditions."""

from __future__ import annotations

from pathlib import Path

import pytest

# Shared with `make demo`: the tests use the same helpers the product does.
from ray_aks.processes import free_port, stop_process_group, wait_for

__all__ = ["REPO_ROOT", "free_port", "stop_process_group", "wait_for"]

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT
