"""MLflow runs for training jobs, safe to use when the tracking server is down.

`MLFLOW_TRACKING_URI` chooses the server (the chart sets it); without it runs go to a local
./mlruns file store. Every call goes through `RunTracker`, which turns itself off after the first
failure with one warning naming the URI: training goes on and checkpoints are still written.
The tracker is a plain dataclass so it travels to Ray workers inside train_loop_config (workers
do not see environment variables set in the driver after ray.init).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

logger = logging.getLogger(__name__)
T = TypeVar("T")

LOCAL_STORE_DIR = "mlruns"
# Fail fast instead of MLflow's default 7 retries with exponential backoff (minutes per call).
_FAST_FAIL_ENV = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}


def resolve_tracking_uri(explicit: str | None = None) -> str:
    """`explicit`, else MLFLOW_TRACKING_URI, else a local store in ./mlruns.

    The local store is SQLite (./mlruns/mlflow.db, artifacts beside it): MLflow 3 refuses new
    runs in its file store ("maintenance mode"). The path is absolute because Ray workers run
    in their own working directory.
    """
    uri = explicit or os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    store = (Path.cwd() / LOCAL_STORE_DIR).resolve()
    store.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{store / 'mlflow.db'}"


def local_artifact_location(uri: str, experiment_name: str) -> str | None:
    """Artifacts of a local SQLite store go under its directory (./mlruns/artifacts/<experiment>)."""
    if not uri.startswith("sqlite:///"):
        return None
    return (Path(uri.removeprefix("sqlite:///")).parent / "artifacts" / experiment_name).as_uri()


# Seconds to wait for a tracking server that does not answer yet (default 0: do not wait). The chart
# sets it for its RayJobs: a job installed with the release starts before the MLflow server beside it
# is up, and without the wait it would train untracked and register no model (seen in `make e2e`).
WAIT_ENV = "RAY_AKS_MLFLOW_WAIT_S"


def tracking_server_problem(uri: str, timeout_s: float = 5.0, wait_s: float | None = None) -> str | None:
    """Why the tracking server at `uri` cannot be used, or None when it answers (or is not HTTP).
    Polls for up to `wait_s` seconds (default: $RAY_AKS_MLFLOW_WAIT_S, else 0) while it does not."""
    if not uri.startswith(("http://", "https://")):
        return None
    import requests

    if wait_s is None:
        wait_s = float(os.environ.get(WAIT_ENV) or 0)
    deadline = time.monotonic() + wait_s
    while True:
        try:
            response = requests.get(f"{uri.rstrip('/')}/health", timeout=timeout_s)
            problem = None if response.status_code == 200 else f"GET /health answered {response.status_code}"
        except requests.RequestException as err:
            problem = f"{type(err).__name__}: {err}"
        if problem is None or time.monotonic() >= deadline:
            return problem
        logger.info("MLflow at %s does not answer yet (%s); waiting up to %.0f s", uri, problem, wait_s)
        time.sleep(min(5.0, max(0.0, deadline - time.monotonic())))


@dataclass
class RunTracker:
    """One MLflow run; `run_id` None means tracking is off (the reason is in `problem`)."""

    uri: str
    run_id: str | None = None
    problem: str | None = None
    reopened: bool = False  # an earlier driver's run, continued
    _client: Any = field(default=None, repr=False, compare=False)
    # Epochs this process knows the run has (log_epochs): read from MLflow once, then kept here.
    _logged_epochs: set[int] | None = field(default=None, repr=False, compare=False)

    @property
    def active(self) -> bool:
        return self.run_id is not None and self.problem is None

    def __getstate__(self) -> dict[str, Any]:
        return self.__dict__ | {"_client": None, "_logged_epochs": None}

    def for_rank(self, rank: int) -> RunTracker | NullTracker:
        """This tracker on rank 0, a `NullTracker` on every other rank: one rank logs a distributed
        run, so callers log without asking which rank they are."""
        return self if rank == 0 else NullTracker()

    @property
    def client(self):
        if self._client is None:
            import mlflow

            for key, value in _FAST_FAIL_ENV.items():
                os.environ.setdefault(key, value)
            self._client = mlflow.MlflowClient(tracking_uri=self.uri)
        return self._client

    def connect(self) -> None:
        """Load MLflow and build the client up front (imports take seconds on a busy node)."""
        self.call("connect", lambda: self.client)

    def call(self, what: str, fn: Callable[[], T]) -> T | None:
        """Run one tracking call; the first failure warns once and turns tracking off."""
        if not self.active:
            return None
        try:
            return fn()
        except Exception as err:
            self.disable(f"{what} failed: {type(err).__name__}: {err}")
            return None

    def disable(self, problem: str) -> None:
        self.problem = problem
        logger.warning(
            "MLflow tracking at %s is unavailable (%s); training continues without tracking and "
            "checkpoints are still written to the storage path",
            self.uri,
            problem,
        )

    def log_params(self, params: dict[str, Any]) -> None:
        """Log params; on a reopened run, values that changed become `ray_aks.rerun.<name>` tags
        (MLflow refuses to change a logged param)."""
        from mlflow.entities import Param, RunTag

        def log() -> None:
            values = {k: str(v) for k, v in params.items()}
            logged = self.client.get_run(self.run_id).data.params if self.reopened else {}
            new = [Param(k, v) for k, v in values.items() if k not in logged]
            changed = [
                RunTag(f"ray_aks.rerun.{k}", v) for k, v in values.items() if k in logged and logged[k] != v
            ]
            self.client.log_batch(self.run_id, params=new, tags=changed)

        self.call("log params", log)

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(k, float(v), now, step or 0) for k, v in metrics.items()]
        self.call("log metrics", lambda: self.client.log_batch(self.run_id, metrics=items))

    def log_epochs(self, history: list[dict[str, Any]], keys: tuple[str, ...]) -> None:
        """Log `keys` of every epoch in `history` (dicts with an "epoch") that the run lacks: a
        resumed job logs no epoch twice and fills in one that a kill stopped it from logging.
        The run's epochs are read from MLflow on the first call in a process (a restarted worker
        starts afresh), not on every epoch."""
        import time

        from mlflow.entities import Metric

        def log() -> None:
            if self._logged_epochs is None:
                self._logged_epochs = {m.step for m in self.client.get_metric_history(self.run_id, keys[0])}
            missing = [epoch for epoch in history if int(epoch["epoch"]) not in self._logged_epochs]
            now = int(time.time() * 1000)
            items = [
                Metric(key, float(epoch[key]), now, int(epoch["epoch"])) for epoch in missing for key in keys
            ]
            if items:
                self.client.log_batch(self.run_id, metrics=items)
                self._logged_epochs |= {int(epoch["epoch"]) for epoch in missing}

        self.call("log epochs", log)

    def set_tags(self, tags: dict[str, Any]) -> None:
        from mlflow.entities import RunTag

        items = [RunTag(k, str(v)) for k, v in tags.items()]
        self.call("set tags", lambda: self.client.log_batch(self.run_id, tags=items))

    def log_figure(self, figure: Any, artifact_file: str) -> None:
        self.call("log figure", lambda: self.client.log_figure(self.run_id, figure, artifact_file))

    def log_dict(self, data: dict[str, Any], artifact_file: str) -> None:
        self.call("log dict", lambda: self.client.log_dict(self.run_id, data, artifact_file))

    def log_text(self, text: str, artifact_file: str) -> None:
        self.call("log text", lambda: self.client.log_text(self.run_id, text, artifact_file))

    def finish(self, status: str = "FINISHED") -> None:
        self.call("end run", lambda: self.client.set_terminated(self.run_id, status=status))


class NullTracker:
    """The tracker of ranks other than 0: every call does nothing (and imports nothing)."""

    active = False

    def connect(self) -> None:
        pass

    def log_params(self, params: dict[str, Any]) -> None:
        pass

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        pass

    def log_epochs(self, history: list[dict[str, Any]], keys: tuple[str, ...]) -> None:
        pass

    def set_tags(self, tags: dict[str, Any]) -> None:
        pass


def start_run(
    uri: str,
    experiment_name: str,
    run_name: str | None = None,
    resume_run_id: str | None = None,
    parent_run_id: str | None = None,
    tags: dict[str, str] | None = None,
) -> RunTracker:
    """Create (or reopen, for a resumed job) a run; a server that does not answer: an inactive tracker."""
    tracker = RunTracker(uri=uri)
    problem = tracking_server_problem(uri)
    if problem:
        tracker.disable(problem)
        return tracker

    def create() -> str:
        client = tracker.client
        if resume_run_id:
            try:
                client.update_run(resume_run_id, status="RUNNING")
                tracker.reopened = True
                return resume_run_id
            except Exception as err:  # the old run is gone (another server or a wiped store)
                logger.info("cannot reopen MLflow run %s (%s); starting a new run", resume_run_id, err)
        experiment = client.get_experiment_by_name(experiment_name)
        experiment_id = (
            experiment.experiment_id
            if experiment
            else client.create_experiment(
                experiment_name, artifact_location=local_artifact_location(uri, experiment_name)
            )
        )
        all_tags = dict(tags or {})
        if parent_run_id:
            all_tags["mlflow.parentRunId"] = parent_run_id
        run = client.create_run(experiment_id, run_name=run_name, tags=all_tags)
        return run.info.run_id

    try:
        tracker.run_id = create()
    except Exception as err:
        tracker.disable(
            f"creating a run in experiment {experiment_name!r} failed: {type(err).__name__}: {err}"
        )
    return tracker


def log_and_register_pytorch_model(
    tracker: RunTracker,
    model: Any,
    registered_model_name: str,
    alias: str | None,
    input_example: Any,
    pip_requirements: list[str],
    extra_files: list[str] | None = None,
) -> int | None:
    """Log `model` as the run's "model" and register it; point `alias` at the new version.

    Pickle format, so `mlflow.pytorch.load_model` gives back the model's own class (MLflow 3's
    default, pt2, gives a torch.export graph without .eval() or the class's attributes). MLflow 3
    refuses to unpickle unless MLFLOW_ALLOW_PICKLE_DESERIALIZATION=true where the model is loaded;
    `extra_files` (e.g. the weights-only checkpoint) ride along under extra_files/ for a safe load.
    """
    if not tracker.active:
        return None

    def log() -> int:
        import mlflow
        import mlflow.pytorch
        import torch
        from mlflow.models import infer_signature

        with torch.inference_mode():
            output = model(torch.as_tensor(input_example)).numpy()
        mlflow.set_tracking_uri(tracker.uri)
        # The fluent API refuses to reopen a run outside the process's active experiment (one a
        # caller set earlier with mlflow.set_experiment), so make the run's own experiment active.
        mlflow.set_experiment(experiment_id=tracker.client.get_run(tracker.run_id).info.experiment_id)
        with mlflow.start_run(run_id=tracker.run_id):
            info = mlflow.pytorch.log_model(
                model,
                name="model",
                registered_model_name=registered_model_name,
                signature=infer_signature(input_example, output),
                pip_requirements=pip_requirements,
                serialization_format="pickle",
                extra_files=extra_files,
            )
        version = int(info.registered_model_version)
        if alias:
            tracker.client.set_registered_model_alias(registered_model_name, alias, str(version))
        return version

    return tracker.call(f"log and register model {registered_model_name!r}", log)
