"""`make test`'s runner: every step in order, each one timed, then a table of where the time went.

    python3 tools/test_times.py run --output .cache/test-times.json --recorded FILE -- STEP...
    python3 tools/test_times.py record --kind cold|warm --recorded FILE [--readme README.md]

`run` runs `make STEP` for each step, stops at the first that fails (as make does), and prints, also
after a failure: each step's wall time beside the times recorded in the repository (a fresh machine's
run and a warm one), every step that took more than half again its recorded time, the estimate for a
fresh machine, and the 25 slowest pytest tests (each pytest run writes its durations to the folder in
$TEST_TIMES_DIR; tests/conftest.py does that). Timings never fail the run: machines are noisy.
`record` keeps the last run as the repository's cold or warm table and writes README's table.

Standard library only: it runs before the .venv exists.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

GROWTH_WARNING = 1.5  # "grew by more than half"
SLOWEST_TESTS = 25
README_START, README_END = "<!-- test-times -->", "<!-- /test-times -->"


@dataclass(frozen=True)
class Step:
    name: str
    seconds: float
    status: int


def machine() -> dict:
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        found = re.search(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.M)
        model = found.group(1).strip() if found else ""
    return {"cpus": os.cpu_count(), "cpu_model": model or platform.processor(), "system": platform.system()}


def commit() -> str:
    out = subprocess.run(
        ["git", "describe", "--always", "--dirty", "--abbrev=12"], capture_output=True, text=True, check=False
    )
    return out.stdout.strip() or "unknown"


def _make(name: str, step_dir: Path, **popen) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    shutil.rmtree(step_dir, ignore_errors=True)
    step_dir.mkdir(parents=True)
    return subprocess.Popen(
        ["make", "--no-print-directory", name], env=env | {"TEST_TIMES_DIR": str(step_dir)}, **popen
    )


def parse_step(token: str) -> tuple[str, str]:
    """A step as `make test` lists it: its name, and for `NAME&JOIN` the step it must pass before
    ("" for a step run in the foreground)."""
    name, _, join_at = token.partition("&")
    return name, join_at


def run_steps(steps: list[str], durations_dir: Path) -> list[Step]:
    """`make STEP` for each step, in order, until one fails; output streams through. A step written
    `NAME&JOIN` runs beside the steps after it (its output to a log file, printed when it ends) and
    must have passed before step JOIN starts: a tool build that needs the CPU beside image builds and
    pushes that mostly wait on the network and the disk."""
    done: list[Step] = []
    beside: dict[str, tuple[subprocess.Popen, float, str, Path]] = {}
    watchers: dict[str, threading.Thread] = {}

    ended: dict[str, float] = {}  # when each step beside the others ended, noted by its own thread

    def watch(name: str, process: subprocess.Popen) -> None:
        process.wait()
        ended[name] = time.monotonic()

    def join(name: str) -> int:
        process, started, _, log = beside.pop(name)
        status = process.wait()
        watcher = watchers.pop(name)
        watcher.join()
        done.append(Step(name, round(ended[name] - started, 1), status))
        text = log.read_text(errors="replace")
        print(f"\n==> make {name} (ran beside the steps before; its log: {log})", flush=True)
        print(text if status else "\n".join(text.splitlines()[-5:]), flush=True)
        return status

    def stop_beside() -> None:
        for name, (process, started, _, _) in list(beside.items()):
            process.terminate()
            process.wait()
            watchers.pop(name).join()
            done.append(Step(name, round(time.monotonic() - started, 1), -1))
            beside.pop(name)

    for token in steps:
        name, join_at = parse_step(token)
        for waiting in [n for n, (_, _, at, _) in beside.items() if at == name]:
            if join(waiting):
                stop_beside()
                return done
        if join_at:
            print(f"\n==> make {name} (beside the next steps, until {join_at})", flush=True)
            log = durations_dir / f"{name}.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            with log.open("w") as out:
                process = _make(name, durations_dir / name, stdout=out, stderr=subprocess.STDOUT)
            beside[name] = (process, time.monotonic(), join_at, log)
            watchers[name] = threading.Thread(target=watch, args=(name, process), daemon=True)
            watchers[name].start()
            continue
        print(f"\n==> make {name}", flush=True)
        started = time.monotonic()
        status = _make(name, durations_dir / name).wait()
        done.append(Step(name, round(time.monotonic() - started, 1), status))
        if status:
            stop_beside()
            return done
    for waiting in list(beside):
        if join(waiting):
            break
    return done


def slowest_tests(durations_dir: Path, count: int = SLOWEST_TESTS) -> list[dict]:
    """The `count` slowest tests of every pytest run of this `make test` (setup, call and teardown
    summed, as each test's own cost; a session fixture's start is paid by the first test using it)."""
    tests = []
    for file in sorted(durations_dir.glob("*/pytest-*.json")):
        step = file.parent.name
        for nodeid, seconds in json.loads(file.read_text()).items():
            tests.append({"step": step, "test": nodeid, "seconds": round(seconds, 1)})
    return sorted(tests, key=lambda t: -t["seconds"])[:count]


def minutes(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def looks_cold(seconds: float, cold: float | None, warm: float | None) -> bool:
    """Whether a step's time is nearer its recorded fresh-machine time than its warm one (in ratio)."""
    if cold is None or warm is None or cold <= warm:
        return True
    return seconds >= (cold * warm) ** 0.5


def beside_spans(tokens: list[str]) -> dict[str, list[str]]:
    """For each step written `NAME&JOIN`, the steps that ran in the foreground beside it: those after
    it, up to its join step (or to the end)."""
    spans = {}
    for index, token in enumerate(tokens):
        name, join_at = parse_step(token)
        if not join_at:
            continue
        names = [t for t in tokens[index + 1 :] if not parse_step(t)[1]]
        spans[name] = names[: names.index(join_at)] if join_at in names else names
    return spans


def fresh_machine_estimate(
    steps: list[Step], recorded: dict, wall: float | None = None, beside: dict[str, list[str]] | None = None
) -> float:
    """This run's total (its wall time when given: steps that ran beside others count once), with each
    step that ran warm given back the cold-cache work the recorded runs show (recorded cold - recorded
    warm): tool builds, image builds, the first push. A step that ran beside others (`beside`, from
    beside_spans) and the steps it ran beside count as one span: the longer side of it, each side with
    its cold-cache work given back."""
    cold, warm = recorded.get("cold", {}).get("steps", {}), recorded.get("warm", {}).get("steps", {})
    total = sum(step.seconds for step in steps) if wall is None else wall
    seconds = {step.name: step.seconds for step in steps}
    extra = {
        step.name: 0.0
        if looks_cold(step.seconds, cold.get(step.name), warm.get(step.name))
        else cold[step.name] - warm[step.name]
        for step in steps
    }
    spanned: set[str] = set()
    for name, alongside in (beside or {}).items():
        if name not in seconds:
            continue
        foreground = [n for n in alongside if n in seconds]
        measured = max(seconds[name], sum(seconds[n] for n in foreground))
        cold_span = max(seconds[name] + extra[name], sum(seconds[n] + extra[n] for n in foreground))
        total += cold_span - measured
        spanned |= {name, *foreground}
    return total + sum(seconds_back for name, seconds_back in extra.items() if name not in spanned)


def grown(steps: list[Step], recorded: dict) -> list[str]:
    """Steps that took more than GROWTH_WARNING times the recorded time of the same kind of run."""
    cold, warm = recorded.get("cold", {}).get("steps", {}), recorded.get("warm", {}).get("steps", {})
    found = []
    for step in steps:
        kind = "cold" if looks_cold(step.seconds, cold.get(step.name), warm.get(step.name)) else "warm"
        before = (cold if kind == "cold" else warm).get(step.name)
        if before and step.seconds > GROWTH_WARNING * before:
            found.append(f"{step.name}: {minutes(step.seconds)} against {minutes(before)} recorded ({kind})")
    return found


def table(steps: list[Step], recorded: dict, wall: float | None = None) -> list[str]:
    cold, warm = recorded.get("cold", {}).get("steps", {}), recorded.get("warm", {}).get("steps", {})
    rows = [f"{'step':<22} {'this run':>9} {'recorded fresh':>15} {'recorded warm':>14}  status"]
    for step in steps:
        status = "ok" if step.status == 0 else f"FAILED ({step.status})"
        rows.append(
            f"{step.name:<22} {minutes(step.seconds):>9} {minutes(cold.get(step.name)):>15}"
            f" {minutes(warm.get(step.name)):>14}  {status}"
        )
    total = sum(s.seconds for s in steps) if wall is None else wall
    rows.append(
        f"{'total':<22} {minutes(total):>9} {minutes(recorded.get('cold', {}).get('total_s')):>15}"
        f" {minutes(recorded.get('warm', {}).get('total_s')):>14}"
    )
    return rows


def report(result: dict, recorded: dict) -> str:
    steps = [Step(s["name"], s["seconds"], s["status"]) for s in result["steps"]]
    wall = result.get("total_s")
    lines = ["", "make test: where the time went (m:ss; total: the wall time)", *table(steps, recorded, wall)]
    growth = grown(steps, recorded)
    if growth:
        lines += ["", "took more than half again their recorded time:", *(f"  {g}" for g in growth)]
    lines += [
        "",
        f"estimate for a fresh machine (this run, plus the cold-cache work of the steps that ran warm): "
        f"{minutes(fresh_machine_estimate(steps, recorded, wall, result.get('beside')))}",
    ]
    if result["slowest_tests"]:
        lines += ["", f"the {len(result['slowest_tests'])} slowest tests (seconds, setup + call + teardown):"]
        lines += [f"  {t['seconds']:7.1f}  {t['step']:<16} {t['test']}" for t in result["slowest_tests"]]
    lines.append(f"\nwritten to {result['path']}")
    return "\n".join(lines)


def load(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def run(args: argparse.Namespace) -> int:
    durations_dir = args.output.parent / "test-times"
    started, wall_started = time.time(), time.monotonic()
    steps = run_steps(args.steps, durations_dir)
    wall = round(time.monotonic() - wall_started, 1)
    result = {
        "commit": commit(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "machine": machine(),
        "steps": [vars(s) for s in steps],
        # The wall time: a step that ran beside others is in it once.
        "total_s": wall,
        # Which steps ran beside which (the estimate for a fresh machine counts each such span once).
        "beside": beside_spans(args.steps),
        "passed": bool(steps) and all(s.status == 0 for s in steps) and len(steps) == len(args.steps),
        "slowest_tests": slowest_tests(durations_dir),
        "path": str(args.output),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(report(result, load(args.recorded)), flush=True)
    return next((s.status for s in steps if s.status), 0)


def readme_table(recorded: dict) -> str:
    """The README's table: each step on a fresh machine and warm, and the slowest tests of the warm run."""
    cold, warm = recorded.get("cold", {}), recorded.get("warm", {})
    names = list(dict.fromkeys([*cold.get("steps", {}), *warm.get("steps", {})]))
    lines = [
        README_START,
        "| `make test` step | fresh machine | warm caches |",
        "|---|---|---|",
        *(
            f"| `{n}` | {minutes(cold.get('steps', {}).get(n))} | {minutes(warm.get('steps', {}).get(n))} |"
            for n in names
        ),
        f"| **total** | **{minutes(cold.get('total_s'))}** | **{minutes(warm.get('total_s'))}** |",
        "",
        *(
            f"{kind.capitalize()}: {run_['machine']['cpus']} cores ({run_['machine']['cpu_model']}), "
            f"commit `{run_['commit']}`, {run_['started']}."
            for kind, run_ in (("fresh machine", cold), ("warm caches", warm))
            if run_
        ),
    ]
    if warm.get("slowest_tests"):
        lines += ["", "The slowest tests of the warm run (seconds, setup + call + teardown):", ""]
        lines += ["| seconds | step | test |", "|---|---|---|"]
        lines += [f"| {t['seconds']} | `{t['step']}` | `{t['test']}` |" for t in warm["slowest_tests"][:10]]
    lines.append(README_END)
    return "\n".join(lines)


def write_readme(readme: Path, recorded: dict) -> None:
    text = readme.read_text()
    pattern = re.compile(re.escape(README_START) + ".*?" + re.escape(README_END), re.S)
    if not pattern.search(text):
        raise SystemExit(f"{readme} has no {README_START} ... {README_END} block")
    readme.write_text(pattern.sub(lambda _: readme_table(recorded), text))


def record(args: argparse.Namespace) -> int:
    result = load(args.output)
    if not result.get("passed"):
        raise SystemExit(f"{args.output}: no passing `make test` run to record (run `make test` first)")
    recorded = load(args.recorded)
    recorded[args.kind] = {
        key: result[key] for key in ("commit", "started", "machine", "total_s", "slowest_tests")
    } | {"steps": {s["name"]: s["seconds"] for s in result["steps"]}}
    args.recorded.write_text(json.dumps(recorded, indent=2) + "\n")
    if args.readme:
        write_readme(args.readme, recorded)
    print(f"recorded the {args.kind} run of {result['commit']} in {args.recorded}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tools/test_times.py", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="run make STEP for each step, timed, then print the table")
    record_parser = commands.add_parser("record", help="keep the last run as the recorded cold or warm table")
    for sub in (run_parser, record_parser):
        sub.add_argument(
            "--output", type=Path, default=Path(".cache/test-times.json"), help="this run's times"
        )
        sub.add_argument("--recorded", type=Path, required=True, help="the times recorded in the repository")
    run_parser.add_argument("steps", nargs="+", metavar="STEP", help="make targets, in order")
    record_parser.add_argument(
        "--kind", choices=("cold", "warm"), required=True, help="fresh machine or warm"
    )
    record_parser.add_argument("--readme", type=Path, help="a README with a test-times block to rewrite")
    args = parser.parse_args(argv)
    return run(args) if args.command == "run" else record(args)


if __name__ == "__main__":
    sys.exit(main())
