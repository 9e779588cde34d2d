"""`python -m benchmarks` (what `make bench` runs): run the benchmarks, print and write the results.

Writes benchmarks/results/<name>.json and <name>.png per benchmark run, then RESULTS.md with the
table of every benchmark whose JSON is present (so one benchmark can be re-run on its own).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from pathlib import Path

from benchmarks import chart, embedding, serving, training
from benchmarks.common import (
    RESULTS_DIR,
    facts_line,
    load_average,
    load_results,
    print_table,
    table_lines,
    write_result,
)

ORDER = ("serving", "embedding", "training", "chart")
MODULES = {"serving": serving, "embedding": embedding, "training": training, "chart": chart}
ROOT = Path(__file__).resolve().parent.parent


def start_ray() -> None:
    """A local Ray on the usable cores, with the Serve settings users get (the serving benchmark
    measures them)."""
    from ray_aks.local_ray import start_local_ray

    from tools.minilm import OFFLINE_ENV

    start_local_ray(
        num_cpus=len(os.sched_getaffinity(0)),
        # Ray Train workers import benchmarks.training from the checkout.
        env_vars=OFFLINE_ENV | {"PYTHONPATH": str(ROOT)},
        logging_level="WARNING",
    )


def write_markdown() -> Path:
    results = load_results(list(ORDER))
    lines = [
        "# Benchmark results",
        "",
        "Ratio = ray-aks / plain, per run, then the median [min-max] over the runs where both sides ran.",
        "Throughput ratios above 1 and latency/time ratios below 1 favour ray-aks; `load` is the median",
        "1-minute load average during the measurements (other work on the machine).",
        "",
        *table_lines(results),
        "",
    ]
    for result in results:
        lines += [
            f"## {result['name']}",
            "",
            result["description"],
            "",
            f"Ran {result['started']} for {result['seconds']:.0f} s on: {facts_line(result['facts'])}.",
            "",
            f"![{result['name']}]({result['name']}.png)",
            "",
        ]
        errors = sorted({e for s in result["summary"] for e in s["errors"]})
        if errors:
            lines += ["Errors (those runs give no ratio):", "", *[f"- `{e}`" for e in errors], ""]
    path = RESULTS_DIR / "RESULTS.md"
    path.write_text("\n".join(lines))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(ORDER), help="comma-separated: " + ",".join(ORDER))
    parser.add_argument("--runs", type=int, default=3, help="runs per comparison (median, min, max)")
    parser.add_argument("--serve-seconds", type=float, default=6.0, help="measured seconds per load point")
    parser.add_argument("--serve-concurrency", default="1,8,32", help="comma-separated client counts")
    parser.add_argument("--embed-rows", type=int, default=8000, help="texts embedded per run")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive map_batches reference side")
    parser.add_argument("--train-workers", type=int, default=2)
    parser.add_argument("--train-epochs", type=int, default=10)
    parser.add_argument("--target-accuracy", type=float, default=0.9)
    parser.add_argument("--chart-runs", type=int, default=10)
    args = parser.parse_args(argv)
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(ORDER))
    if unknown:
        parser.error(f"unknown benchmarks: {', '.join(unknown)} (choose from {', '.join(ORDER)})")
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    print(f"benchmarks: {', '.join(chosen)}, {args.runs} runs, load average {load_average()}", flush=True)
    if set(chosen) - {"chart"}:
        start_ray()
    calls = {
        "serving": lambda: serving.run(
            runs=args.runs,
            seconds=args.serve_seconds,
            concurrencies=tuple(int(c) for c in args.serve_concurrency.split(",")),
        ),
        "embedding": lambda: embedding.run(runs=args.runs, rows=args.embed_rows, naive=not args.no_naive),
        "training": lambda: training.run(
            runs=args.runs,
            workers=args.train_workers,
            epochs=args.train_epochs,
            target_accuracy=args.target_accuracy,
        ),
        "chart": lambda: chart.run(runs=args.chart_runs),
    }
    failed = []
    for name in [n for n in ORDER if n in chosen]:
        begun = time.perf_counter()
        try:
            result = calls[name]()
        except Exception:
            traceback.print_exc()
            failed.append(name)
            continue
        path = write_result(result)
        MODULES[name].plot(result.to_json(), RESULTS_DIR / f"{name}.png")
        print(f"[{name}] done in {time.perf_counter() - begun:.0f} s -> {path}", flush=True)
        print_table(result)
    markdown = write_markdown()
    print("\n" + markdown.read_text(), flush=True)
    if failed:
        print(f"benchmarks that failed to run: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
