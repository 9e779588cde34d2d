"""Where `ray-aks embed`'s time goes: each process's CPU seconds while it embeds, next to the raw
model's one process on the same texts.

`python -m benchmarks.embedding_profile [--rows N]` writes N seeded texts, runs the raw script (the
plain side of benchmarks.embedding) and then the `ray-aks embed` pipeline on a local Ray, and prints
each side's wall seconds and the CPU seconds (user + system, from /proc) of each kind of process:
the embedding actor, this driver (Ray Data's executor runs in it), raylet, GCS, the dashboard... On
2 cores, CPU that is not the model's is time the model does not get.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

from benchmarks.serving_profile import PROCESS_NAMES, cpu_seconds

OTHER_WORKERS = "other Ray workers"
# Ahead of serving_profile's names (first match wins).
EMBED_PROCESS_NAMES = [
    (r"MapWorker|MapBatches|VectorBatches", "embedding actor (model)"),
    (r"benchmarks.embedding_profile", "driver: Ray Data executor (this process)"),
    (r"ray::|default_worker", OTHER_WORKERS),
    *PROCESS_NAMES,
]


class CpuSampler:
    """Each process's CPU seconds since start, sampled from /proc every `interval` s, so processes
    that exit before the end (Ray Data's actor, its tasks) still count up to their last sample."""

    def __init__(self, interval: float = 0.5):
        self.interval = interval
        self.start = cpu_seconds()
        self.last: dict[int, tuple[str, float]] = dict(self.start)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.last.update(cpu_seconds())

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        self.last.update(cpu_seconds())
        used: dict[str, float] = defaultdict(float)
        for pid, (cmdline, total) in self.last.items():
            name = next((n for pattern, n in EMBED_PROCESS_NAMES if re.search(pattern, cmdline)), None)
            if name == OTHER_WORKERS and cmdline.startswith("ray::"):
                name = f"Ray worker {cmdline.split()[0][:40]}"  # its title: the task it runs, or IDLE
            if name is not None:
                used[name] += total - self.start.get(pid, (cmdline, 0.0))[1]
        return dict(used)


def print_side(title: str, wall: float, rows: int, used: dict[str, float]) -> None:
    print(f"{title}: {wall:.1f} s wall, {rows / wall:.1f} rows/s")
    for name, seconds in sorted(used.items(), key=lambda item: -item[1]):
        if seconds >= 0.05:
            print(f"  {name:48s} {seconds:7.1f} CPU s  {100 * seconds / wall:5.0f}% of a core")
    print(f"  {'total':48s} {sum(used.values()):7.1f} CPU s")


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.embedding_profile", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--rows", type=int, default=4000, help="texts to embed (default 4000)")
    parser.add_argument("--batch-size", type=int, default=64, help="the raw side's encode batch size")
    args = parser.parse_args()
    if args.rows < 1:
        parser.error("--rows must be at least 1")

    from benchmarks.__main__ import start_ray
    from benchmarks.embedding import raw_embed, ray_embed, write_texts
    from tools.minilm import minilm_path

    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    model = minilm_path()
    workdir = Path(tempfile.mkdtemp(prefix="embedding-profile-"))
    source = workdir / "texts.txt"
    write_texts(source, args.rows)
    threads = len(os.sched_getaffinity(0))

    start_ray()  # up for both sides, as in `make bench`: its idle processes share the cores
    # The raw side's child has exited by the end: its CPU is the children's rusage.
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    sampler = CpuSampler()
    started = time.perf_counter()
    raw_embed(source, workdir / "raw", model, args.batch_size, threads)
    raw_wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    raw_cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    used = sampler.stop() | {"raw script": raw_cpu}
    print_side("raw model (one process)", raw_wall, args.rows, used)

    sampler = CpuSampler()
    started = time.perf_counter()
    ray_embed(source, workdir / "ray", model)
    ray_wall = time.perf_counter() - started
    print_side("ray-aks embed (Ray Data)", ray_wall, args.rows, sampler.stop())


if __name__ == "__main__":
    main()
