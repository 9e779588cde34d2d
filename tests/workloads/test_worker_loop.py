"""The pieces the trainers' shared worker loop is built from, without Ray: the per-rank tracker and
the one training step."""

from __future__ import annotations

import os

import pytest
import torch
from ray_aks.tracking.mlflow_tracking import NullTracker, RunTracker
from ray_aks.training.epochs import PassTotals, train_step

from tests.support.fresh_python import run_in_fresh_python


def test_rank_0_keeps_the_tracker_and_the_other_ranks_get_one_that_does_nothing() -> None:
    tracker = RunTracker(uri="http://mlflow.invalid", run_id="run")
    assert tracker.for_rank(0) is tracker
    other = tracker.for_rank(1)
    assert isinstance(other, NullTracker) and not other.active


def test_the_null_tracker_imports_no_mlflow() -> None:
    code = (
        "import sys\n"
        "from ray_aks.tracking.mlflow_tracking import NullTracker\n"
        "t = NullTracker()\n"
        "t.connect(); t.log_params({'a': 1}); t.log_metrics({'m': 1.0}, step=1)\n"
        "t.log_epochs([{'epoch': 1, 'm': 1.0}], ('m',)); t.set_tags({'k': 'v'})\n"
        "assert 'mlflow' not in sys.modules\n"
    )
    run_in_fresh_python(code)


def test_a_training_step_lowers_the_loss_and_the_totals_count_the_batch() -> None:
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    first_loss, logits = train_step(model, optimizer, x, y)
    assert logits.shape == (8, 3) and not logits.requires_grad
    totals = PassTotals()
    totals.add(first_loss, logits, y)
    assert totals.count == 8 and totals.loss == pytest.approx(float(first_loss))
    assert totals.correct == int((logits.argmax(dim=1) == y).sum())
    second_loss, _ = train_step(model, optimizer, x, y)
    assert second_loss < first_loss


def test_the_trainers_poll_interval_is_one_ray_train_hands_to_its_controller(monkeypatch) -> None:
    # Ray Train copies the driver's value of the variables it lists to the controller it starts:
    # a Ray upgrade that stops listing this one would leave every report waiting up to 2 s again.
    from ray.train.v2._internal.constants import get_env_vars_to_propagate
    from ray_aks.training.worker_env import TRAIN_ENV, apply_train_env

    for name in TRAIN_ENV:
        monkeypatch.delenv(name, raising=False)
    apply_train_env()
    assert TRAIN_ENV.items() <= get_env_vars_to_propagate().items()


def test_a_poll_interval_the_user_set_wins(monkeypatch) -> None:
    from ray_aks.training.worker_env import TRAIN_ENV, apply_train_env

    name = next(iter(TRAIN_ENV))
    monkeypatch.setenv(name, "3")
    apply_train_env()
    assert os.environ[name] == "3"


def test_the_trainers_give_their_workers_the_allocator_settings_unless_the_user_set_one(monkeypatch) -> None:
    from ray_aks.training.worker_env import TRAIN_WORKER_ENV, train_worker_env

    for name in TRAIN_WORKER_ENV:
        monkeypatch.delenv(name, raising=False)
    assert train_worker_env() == TRAIN_WORKER_ENV
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert train_worker_env() == TRAIN_WORKER_ENV | {"MALLOC_ARENA_MAX": "4"}
