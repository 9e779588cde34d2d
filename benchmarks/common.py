"""What every benchmark shares: machine facts, per-run pairs of measurements, ratios, result files.

A benchmark measures both sides of a comparison in the same run, one after the other, so load from
other processes on the machine hits both alike. A run where either side failed yields no ratio.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def machine_facts() -> dict[str, Any]:
    """Cores, torch threads and versions: printed with every benchmark and stored with its results."""
    import torch

    facts: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "load_average_1m": load_average(),
    }
    try:
        import ray

        facts["ray"] = ray.__version__
    except ImportError:
        pass
    try:
        with open("/proc/meminfo") as meminfo:
            facts["memory_gib"] = round(int(meminfo.readline().split()[1]) / 2**20, 1)
        with open("/proc/cpuinfo") as cpuinfo:
            facts["cpu_model"] = next(
                (line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), ""
            )
    except OSError:
        pass
    return facts


def print_facts(name: str, facts: dict[str, Any]) -> None:
    print(f"[{name}] machine: " + ", ".join(f"{k}={v}" for k, v in facts.items()), flush=True)


@dataclass
class Measure:
    """One side of one run: a value, or the error that stopped it."""

    value: float | None
    error: str | None = None
    load: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None and self.value is not None


def measure(fn: Callable[[], float]) -> Measure:
    """Run one side; an exception becomes an errored Measure (printed), never a number."""
    try:
        value = float(fn())
        return Measure(value=value, load=load_average())
    except Exception as err:  # a failed side is reported, and its run gives no ratio
        traceback.print_exc()
        return Measure(value=None, error=f"{type(err).__name__}: {err}"[:500], load=load_average())


DIFFERENCE_AT_MOST = "<= plain +"


@dataclass
class Row:
    """One compared metric, measured in each run on both sides. ratio = ours / plain."""

    metric: str
    unit: str
    plain: list[Measure] = field(default_factory=list)
    ours: list[Measure] = field(default_factory=list)
    higher_is_better: bool = True
    # The target on the ratio, e.g. (">=", 2.0), or on the difference, ("<= plain +", 3.0) for
    # "ours at most plain's value + 3"; None: reported without a target.
    target: tuple[str, float] | None = None
    plain_name: str = "plain"
    ours_name: str = "ray-aks"

    def ratios(self) -> list[float]:
        return [
            o.value / p.value
            for p, o in zip(self.plain, self.ours, strict=False)
            if p.ok and o.ok and p.value  # both sides ran: otherwise this run has no ratio
        ]

    def errored_runs(self) -> int:
        return sum(1 for p, o in zip(self.plain, self.ours, strict=False) if not (p.ok and o.ok))

    def summary(self) -> dict[str, Any]:
        ratios = self.ratios()
        out: dict[str, Any] = {
            "metric": self.metric,
            "unit": self.unit,
            "plain_name": self.plain_name,
            "ours_name": self.ours_name,
            "plain_median": _median([m.value for m in self.plain if m.ok]),
            "ours_median": _median([m.value for m in self.ours if m.ok]),
            "ratio_median": _median(ratios),
            "ratio_min": min(ratios) if ratios else None,
            "ratio_max": max(ratios) if ratios else None,
            "runs": len(self.ours),
            "runs_with_ratio": len(ratios),
            "errored_runs": self.errored_runs(),
            "errors": sorted({m.error for m in self.plain + self.ours if m.error}),
            "load_median": _median([m.load for m in self.plain + self.ours]),
            "target": f"{self.target[0]} {self.target[1]:g}" if self.target else None,
            "target_met": self.target_met(ratios),
        }
        return out

    def differences(self) -> list[float]:
        return [o.value - p.value for p, o in zip(self.plain, self.ours, strict=False) if p.ok and o.ok]

    def target_met(self, ratios: list[float]) -> bool | None:
        if not self.target or not ratios:
            return None
        op, bound = self.target
        if op == DIFFERENCE_AT_MOST:
            return statistics.median(self.differences()) <= bound
        median = statistics.median(ratios)
        return median >= bound if op == ">=" else median <= bound


def _median(values: list[float | None]) -> float | None:
    clean = [v for v in values if v is not None]
    return statistics.median(clean) if clean else None


@dataclass
class BenchmarkResult:
    name: str
    description: str
    facts: dict[str, Any]
    rows: list[Row]
    # Plain numbers for the plot and the JSON (per-run series, settings); free-form per benchmark.
    details: dict[str, Any] = field(default_factory=dict)
    started: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "started": self.started,
            "seconds": round(self.seconds, 1),
            "facts": self.facts,
            "summary": [row.summary() for row in self.rows],
            "runs": [
                {
                    "metric": row.metric,
                    "plain": [asdict(m) for m in row.plain],
                    "ours": [asdict(m) for m in row.ours],
                }
                for row in self.rows
            ],
            "details": self.details,
        }


def fmt(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "—"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def table_lines(results: list[dict[str, Any]]) -> list[str]:
    """The Markdown results table: one line per metric, ratio = ray-aks / plain (median [min-max])."""
    lines = [
        "| benchmark | metric | plain | ray-aks | ratio ray-aks/plain: median [min-max] (runs) "
        "| target | met | load |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        for s in result["summary"]:
            if s["ratio_median"] is None:
                ratio = "no ratio" if s["plain_median"] is not None or s["errored_runs"] else "—"
            else:
                ratio = (
                    f"**{s['ratio_median']:.2f}** [{s['ratio_min']:.2f}-{s['ratio_max']:.2f}]"
                    f" ({s['runs_with_ratio']}/{s['runs']})"
                )
            if s["errored_runs"]:
                ratio += f", {s['errored_runs']} errored"
            met = {True: "yes", False: "**no**", None: "—"}[s["target_met"]]
            lines.append(
                f"| {result['name']} | {s['metric']} ({s['unit']}) | {fmt(s['plain_median'])} | "
                f"{fmt(s['ours_median'])} | {ratio} | {s['target'] or '—'} | {met} | "
                f"{fmt(s['load_median'], 2)} |"
            )
    return lines


def facts_line(facts: dict[str, Any]) -> str:
    keys = ("usable_cores", "torch_threads", "cpu_model", "memory_gib", "torch", "ray")
    return ", ".join(f"{k}={facts[k]}" for k in keys if k in facts)


def write_result(result: BenchmarkResult) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{result.name}.json"
    path.write_text(json.dumps(result.to_json(), indent=2, default=str) + "\n")
    return path


def load_results(names: list[str]) -> list[dict[str, Any]]:
    found = []
    for name in names:
        path = RESULTS_DIR / f"{name}.json"
        if path.is_file():
            found.append(json.loads(path.read_text()))
    return found


def print_table(result: BenchmarkResult) -> None:
    print("\n".join(table_lines([result.to_json()])), flush=True)
