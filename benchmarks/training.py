"""Training: Ray Train DDP (TorchTrainer, N workers) against plain torch.distributed DDP (N processes).

Both sides run the same loop (`ray_aks.training.epochs`: the MNIST CNN on scikit-learn's digits as
28x28, the same seeded shards, batch size, epochs and one torch thread per process); only the
launcher and the process group come from Ray Train or from torch.multiprocessing + gloo; both get
the allocator settings `ray-aks train` gives its workers
(`ray_aks.training.worker_env.TRAIN_WORKER_ENV`). Rank 0 writes a timeline (epoch, seconds since
the loop started, test accuracy) that both sides share.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import BenchmarkResult, Measure, Row, load_average, machine_facts, print_facts


def train_loop(rank: int, world_size: int, cfg: dict[str, Any], wrap, report) -> None:
    """The shared loop: `wrap` makes the model DDP, `report` is called with each epoch's metrics."""
    import numpy as np
    import torch
    from ray_aks.data.digits import digits_28x28
    from ray_aks.models.mnist_cnn import MnistCNN
    from ray_aks.training.epochs import all_reduce_totals, evaluate, shard_indices, train_one_epoch

    torch.manual_seed(cfg["seed"])
    torch.set_num_threads(cfg["threads"])
    data = digits_28x28(seed=cfg["seed"])
    model = wrap(MnistCNN())
    plain_model = model.module if hasattr(model, "module") else model
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    test_shard = np.arange(rank, len(data.test_labels), world_size)
    timeline = []
    started = time.perf_counter()
    samples = 0
    reporting = 0.0  # seconds spent in `report` so far: Ray Train's per-epoch cost, ~0 for plain DDP
    for epoch in range(1, cfg["epochs"] + 1):
        shard = shard_indices(len(data.train_labels), epoch, rank, world_size, cfg["seed"])
        images, labels = data.train_images[shard], data.train_labels[shard]
        train = train_one_epoch(model, optimizer, images, labels, cfg["batch_size"])
        test = evaluate(plain_model, data.test_images[test_shard], data.test_labels[test_shard])
        train, test = all_reduce_totals(train), all_reduce_totals(test)
        samples += train.count
        metrics = {
            "epoch": epoch,
            "seconds": time.perf_counter() - started,
            "samples": samples,
            "test_accuracy": test.accuracy,
        }
        reported = time.perf_counter()
        report(metrics)
        # "seconds" includes the reports of the epochs before this one: report_seconds_before.
        timeline.append(metrics | {"report_seconds_before": reporting})
        reporting += time.perf_counter() - reported
    if rank == 0:
        Path(cfg["timeline"]).write_text(json.dumps(timeline))


def ray_train_worker(cfg: dict[str, Any]) -> None:
    import ray.train
    import ray.train.torch

    context = ray.train.get_context()
    train_loop(
        context.get_world_rank(),
        context.get_world_size(),
        cfg,
        ray.train.torch.prepare_model,
        lambda metrics: ray.train.report(metrics),
    )


def run_ray_train(cfg: dict[str, Any], workers: int, storage: str) -> None:
    import ray.train
    from ray.train.torch import TorchTrainer
    from ray_aks.training.worker_env import apply_train_env, train_worker_env

    apply_train_env()  # the controller's poll interval `ray-aks train` runs with
    trainer = TorchTrainer(
        ray_train_worker,
        train_loop_config=cfg,
        scaling_config=ray.train.ScalingConfig(num_workers=workers, resources_per_worker={"CPU": 1}),
        run_config=ray.train.RunConfig(
            name=f"bench-{time.time_ns()}",
            storage_path=storage,
            failure_config=ray.train.FailureConfig(max_failures=0),
            worker_runtime_env={"env_vars": train_worker_env()},  # the allocator settings, as `ray-aks train`
        ),
    )
    trainer.fit()


def _plain_worker(rank: int, world_size: int, cfg: dict[str, Any], port: int) -> None:
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size)
    try:
        # Like Ray Train's prepare_model: DDP only when there is more than one process.
        wrap = DistributedDataParallel if world_size > 1 else (lambda model: model)
        train_loop(rank, world_size, cfg, wrap, lambda metrics: None)
    finally:
        dist.destroy_process_group()


def run_plain_ddp(cfg: dict[str, Any], workers: int) -> None:
    import torch.multiprocessing as mp
    from ray_aks.processes import free_port
    from ray_aks.training.worker_env import train_worker_env

    # The same allocator settings as the Ray Train workers: spawned processes read them at start.
    saved = dict(os.environ)
    os.environ.update(train_worker_env())
    try:
        mp.spawn(_plain_worker, args=(workers, cfg, free_port()), nprocs=workers, join=True)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def timeline_figures(path: Path, target: float) -> dict[str, float | None]:
    timeline = json.loads(path.read_text())
    last = timeline[-1]
    reached = next((t for t in timeline if t["test_accuracy"] >= target), None)
    return {
        "samples_per_s": last["samples"] / last["seconds"],
        "seconds_to_target": reached and reached["seconds"],
        # Over the epochs whose report the last one's "seconds" includes.
        "report_ms_per_epoch": 1000 * last["report_seconds_before"] / max(1, len(timeline) - 1),
        "final_accuracy": last["test_accuracy"],
        "loop_seconds": last["seconds"],
    }


def run(
    runs: int = 3, workers: int = 2, epochs: int = 10, target_accuracy: float = 0.9, batch_size: int = 64
) -> BenchmarkResult:
    facts = machine_facts()
    print_facts("training", facts)
    workdir = Path(tempfile.mkdtemp(prefix="bench-training-"))
    base_cfg = {"seed": 0, "threads": 1, "lr": 1e-3, "epochs": epochs, "batch_size": batch_size}
    facts |= {"workers": workers, "threads_per_worker": 1, **base_cfg}
    label = {"plain_name": f"torch DDP x{workers}", "ours_name": f"Ray Train x{workers}"}
    rows = {
        "samples_per_s": Row("training samples/s (loop)", "samples/s", target=(">=", 0.95), **label),
        "seconds_to_target": Row(
            f"time to {target_accuracy:.0%} test accuracy (loop)",
            "s",
            higher_is_better=False,
            target=("<=", 1.05),
            **label,
        ),
        "wall": Row("wall time incl. start-up", "s", higher_is_better=False, **label),
    }
    series = []
    started = time.perf_counter()
    for run_index in range(runs):
        figures: dict[str, dict[str, Any]] = {}
        for name, launch in (
            ("plain", lambda cfg: run_plain_ddp(cfg, workers)),
            ("ray", lambda cfg: run_ray_train(cfg, workers, str(workdir / "ray"))),
        ):
            timeline = workdir / f"{name}-{run_index}.json"
            cfg = base_cfg | {"timeline": str(timeline)}
            begun = time.perf_counter()
            try:
                launch(cfg)
                figures[name] = timeline_figures(timeline, target_accuracy) | {
                    "wall": time.perf_counter() - begun
                }
            except Exception as err:
                figures[name] = {"error": f"{type(err).__name__}: {err}"[:500]}
        for key, row in rows.items():
            for name, side in (("plain", row.plain), ("ray", row.ours)):
                fig = figures[name]
                if "error" in fig:
                    side.append(Measure(None, fig["error"], load_average()))
                elif fig.get(key) is None:
                    missed = f"{target_accuracy:.0%} test accuracy not reached"
                    side.append(Measure(None, missed, load_average()))
                else:
                    side.append(Measure(fig[key], None, load_average()))
        series.append({"run": run_index, "load": load_average(), **figures})
        print(f"[training] run {run_index + 1}/{runs}: {json.dumps(figures)} (load {load_average()})")
    return BenchmarkResult(
        name="training",
        description=__doc__.split("\n\n")[0],
        facts=facts,
        rows=list(rows.values()),
        details={"target_accuracy": target_accuracy, "series": series},
        seconds=time.perf_counter() - started,
    )


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = result["details"]["series"]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for ax, (key, title) in zip(
        axes,
        (
            ("samples_per_s", "samples/s (loop)"),
            ("seconds_to_target", "s to target accuracy"),
            ("wall", "wall s"),
        ),
        strict=True,
    ):
        for offset, (name, label) in enumerate((("plain", "torch DDP"), ("ray", "Ray Train"))):
            xs = [s["run"] + 1 + (offset - 0.5) * 0.35 for s in series if s[name].get(key) is not None]
            ys = [s[name][key] for s in series if s[name].get(key) is not None]
            ax.bar(xs, ys, width=0.35, label=label)
        ax.set_xlabel("run")
        ax.set_title(title)
        ax.legend()
    fig.suptitle(f"Training: Ray Train vs torch DDP ({result['facts']['usable_cores']} cores)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
