"""The environment Ray Train gets from the jobs' drivers: the controller's settings (TRAIN_ENV, set in
the driver before a trainer starts) and the workers' (TRAIN_WORKER_ENV, the trainers' worker runtime
env). A value the user set wins over either. Why each one, and what it changed, is measured in
benchmarks/README.md ("Training")."""

from __future__ import annotations

import os

# How often Ray Train's controller drains the workers' results (2 s by default). A worker's result
# queue holds one report, so with epochs shorter than that every ray.train.report waited for the
# next poll. Ray Train passes the driver's value on to the controller it starts.
TRAIN_ENV = {"RAY_TRAIN_HEALTH_CHECK_INTERVAL_S": "0.5"}

# glibc's allocator in the Train workers: with its defaults each CPU step handed its tensors' memory
# back to the OS and faulted it in again. Raising the two thresholds stops that only in a process's
# main arena, and Ray Train runs the loop in a thread, which glibc gives an arena of its own: hence
# one arena. The cost: a worker's heap stays at its peak instead of shrinking.
TRAIN_WORKER_ENV = {
    "MALLOC_ARENA_MAX": "1",
    "MALLOC_MMAP_THRESHOLD_": str(32 << 20),  # glibc's maximum
    "MALLOC_TRIM_THRESHOLD_": str(1 << 30),
}


def apply_train_env() -> None:
    """Set TRAIN_ENV in this driver (before a trainer starts) unless the user set it."""
    for name, value in TRAIN_ENV.items():
        os.environ.setdefault(name, value)


def train_worker_env() -> dict[str, str]:
    """The environment the trainers give their workers: TRAIN_WORKER_ENV, where the driver's
    environment does not set a value of its own (glibc reads these when a process starts)."""
    return {name: os.environ.get(name, value) for name, value in TRAIN_WORKER_ENV.items()}
