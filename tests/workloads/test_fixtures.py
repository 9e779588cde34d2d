"""The shared real parts start, answer and stop."""

import mlflow
import pytest
import ray


@pytest.mark.slow
def test_mlflow_server_records_a_run(mlflow_server: str) -> None:
    client = mlflow.MlflowClient(tracking_uri=mlflow_server)
    exp_id = client.create_experiment("fixture-check")
    run = client.create_run(exp_id)
    client.log_metric(run.info.run_id, "m", 1.5)
    assert client.get_run(run.info.run_id).data.metrics["m"] == 1.5


@pytest.mark.slow
def test_ray_local_has_two_cpus(ray_local: None) -> None:
    assert ray.cluster_resources()["CPU"] == 2
