"""The module evaluated by the real OpenTofu (tools/infra/harness.py), shared by the infra tests."""

from __future__ import annotations

import pytest

from tools.infra.harness import Evaluation, evaluate


@pytest.fixture(scope="session")
def module_defaults() -> Evaluation:
    """The module's outputs and variables with every default, as `make aks` would see them."""
    return evaluate()


@pytest.fixture(scope="session")
def module_with_options() -> Evaluation:
    """Every optional part on: the Spot pool, MLflow on the shared storage, Managed Prometheus."""
    return evaluate(
        {
            "node_pools": {"spot": {"enabled": True}},
            "mlflow_artifacts_on_shared_storage": True,
            "managed_prometheus_enabled": True,
            "container_insights_enabled": True,
        }
    )
