"""Chart: wall time of `helm template` for the full GPU render (the chart plus the GPU overlay).

A sanity figure with no plain alternative and no target: it renders through tools/render_chart.py,
as the chart tests do, with the helm that `make` pins ($HELM, else ./bin/helm).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from benchmarks.common import BenchmarkResult, Measure, Row, load_average, machine_facts, print_facts


def run(runs: int = 10) -> BenchmarkResult:
    from tools.render_chart import GPU_VALUES, helm_binary, render_text

    facts = machine_facts() | {"helm": helm_binary()}
    print_facts("chart", facts)
    row = Row("helm template, GPU overlay", "s", higher_is_better=False, plain_name="—", ours_name="helm")
    series = []
    started = time.perf_counter()
    objects = 0
    for run_index in range(runs):
        begun = time.perf_counter()
        try:
            text = render_text([GPU_VALUES])
            seconds = time.perf_counter() - begun
            objects = sum(1 for doc in text.split("\n---") if "kind:" in doc)
            row.ours.append(Measure(seconds, None, load_average()))
        except Exception as err:
            row.ours.append(Measure(None, f"{type(err).__name__}: {err}"[:500], load_average()))
        series.append({"run": run_index, "seconds": row.ours[-1].value, "load": row.ours[-1].load})
        print(f"[chart] run {run_index + 1}/{runs}: {row.ours[-1].value} s ({objects} objects)", flush=True)
    return BenchmarkResult(
        name="chart",
        description=__doc__.split("\n\n")[0],
        facts=facts,
        rows=[row],
        details={"objects": objects, "series": series},
        seconds=time.perf_counter() - started,
    )


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = result["details"]["series"]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.bar([s["run"] + 1 for s in series], [s["seconds"] or 0 for s in series])
    ax.set_xlabel("run")
    ax.set_ylabel("seconds")
    ax.set_title(f"helm template, full GPU render ({result['details']['objects']} objects)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
