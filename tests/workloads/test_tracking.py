"""MLflow tracking: where runs go by default, and a tracker that survives a server that is down."""

from __future__ import annotations

import logging
import pickle
from pathlib import Path

import mlflow
import pytest
from ray_aks.tracking.mlflow_tracking import RunTracker, resolve_tracking_uri, start_run

from tests.conftest import free_port


def test_default_store_is_local_mlruns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    uri = resolve_tracking_uri()
    assert uri == f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    assert (tmp_path / "mlruns").is_dir()


def test_environment_variable_is_honoured_and_an_explicit_uri_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.ray.svc:5000")
    assert resolve_tracking_uri() == "http://mlflow.ray.svc:5000"
    assert resolve_tracking_uri("http://elsewhere:5000") == "http://elsewhere:5000"


def test_closed_port_gives_one_warning_naming_the_uri_and_no_op_calls(
    caplog: pytest.LogCaptureFixture,
) -> None:
    uri = f"http://127.0.0.1:{free_port()}"
    with caplog.at_level(logging.WARNING, logger="ray_aks"):
        tracker = start_run(uri, "anything", run_name="r")
        tracker.log_metrics({"loss": 1.0}, step=1)
        tracker.log_params({"lr": 0.1})
        tracker.finish()
    assert not tracker.active and tracker.run_id is None
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and f"MLflow tracking at {uri} is unavailable" in warnings[0]
    assert "checkpoints are still written" in warnings[0]


@pytest.mark.slow
def test_tracker_logs_to_a_real_server_and_travels_pickled(mlflow_server: str) -> None:
    tracker = start_run(mlflow_server, "tracker-test", run_name="pickled", tags={"who": "test"})
    assert tracker.active
    tracker.log_params({"lr": 0.01})
    copy: RunTracker = pickle.loads(pickle.dumps(tracker))  # what a Ray worker receives
    copy.log_metrics({"loss": 0.5, "accuracy": 0.9}, step=3)
    tracker.finish()
    run = mlflow.MlflowClient(tracking_uri=mlflow_server).get_run(tracker.run_id)
    assert run.data.params["lr"] == "0.01" and run.data.tags["who"] == "test"
    assert run.data.metrics == {"loss": 0.5, "accuracy": 0.9}
    assert run.info.status == "FINISHED"

    reopened = start_run(mlflow_server, "tracker-test", resume_run_id=tracker.run_id)
    assert reopened.run_id == tracker.run_id and reopened.reopened  # a restarted driver continues the run
    reopened.log_params(
        {"lr": 0.02, "epochs": 4}
    )  # MLflow refuses to change a param: a tag keeps the new value
    assert reopened.active
    run = mlflow.MlflowClient(tracking_uri=mlflow_server).get_run(tracker.run_id)
    assert run.data.params == {"lr": "0.01", "epochs": "4"}
    assert run.data.tags["ray_aks.rerun.lr"] == "0.02"


@pytest.mark.slow
def test_server_failing_mid_run_turns_tracking_off_without_raising(
    mlflow_server: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracker = start_run(mlflow_server, "tracker-test", run_name="goes-away")
    assert tracker.active
    gone = RunTracker(uri=f"http://127.0.0.1:{free_port()}", run_id=tracker.run_id)  # the server moved away
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    with caplog.at_level(logging.WARNING, logger="ray_aks"):
        gone.log_metrics({"loss": 1.0}, step=1)
        gone.log_metrics({"loss": 0.5}, step=2)  # no second attempt, no second warning
    assert not gone.active and "log metrics failed" in gone.problem
    assert sum("is unavailable" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.slow
def test_model_registers_while_another_experiment_is_active_in_the_process(mlflow_server: str) -> None:
    import torch
    from ray_aks.tracking.mlflow_tracking import log_and_register_pytorch_model

    mlflow.set_tracking_uri(mlflow_server)
    mlflow.set_experiment("someone-elses-experiment")  # as a caller's script (or an earlier job) may
    tracker = start_run(mlflow_server, "tracker-test", run_name="registers")
    model = torch.nn.Linear(4, 2)
    version = log_and_register_pytorch_model(
        tracker, model, "tracker-test-model", "champion", torch.zeros(1, 4).numpy(), ["torch"]
    )
    tracker.finish()
    assert tracker.active and version is not None
    client = mlflow.MlflowClient(tracking_uri=mlflow_server)
    assert client.get_model_version_by_alias("tracker-test-model", "champion").version == str(version)


def test_log_epochs_logs_each_epoch_once_and_fills_in_a_missing_one(tmp_path: Path) -> None:
    """What a resumed job relies on: the checkpoint's history re-logged logs nothing twice, and an
    epoch checkpointed but not logged before a kill gets logged."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = start_run(uri, "epochs", run_name="resumed")
    history = [{"epoch": e, "loss": 1.0 / e, "accuracy": 0.5 + e / 10} for e in (1, 2, 3)]
    tracker.log_epochs(history[:1], ("loss", "accuracy"))
    tracker.log_epochs(history[:1], ("loss", "accuracy"))  # the same epoch again: nothing new
    tracker.log_epochs(history, ("loss", "accuracy"))  # epochs 2 and 3 were never logged
    restarted = pickle.loads(pickle.dumps(tracker))  # what a restarted worker receives: reads MLflow again
    restarted.log_epochs(history, ("loss", "accuracy"))
    client = mlflow.MlflowClient(tracking_uri=uri)
    for key in ("loss", "accuracy"):
        logged = [(m.step, m.value) for m in client.get_metric_history(tracker.run_id, key)]
        assert sorted(logged) == [(e["epoch"], e[key]) for e in history]
    assert tracker.active


def test_a_server_that_answers_late_is_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """RAY_AKS_MLFLOW_WAIT_S (the chart sets it): a job that starts before its MLflow server waits."""
    import http.server
    import threading

    from ray_aks.tracking.mlflow_tracking import tracking_server_problem

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/health" else 404)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    assert tracking_server_problem(uri, wait_s=0) is not None  # nothing listens yet
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Health)
    starter = threading.Timer(1.0, server.serve_forever)
    starter.start()
    try:
        monkeypatch.setenv("RAY_AKS_MLFLOW_WAIT_S", "60")
        assert tracking_server_problem(uri) is None
    finally:
        server.shutdown()
        server.server_close()
        starter.join()
