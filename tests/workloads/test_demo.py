"""`make demo`: its argument handling, and its output read as a user reads it, piped: a report with no
Ray log line and no ANSI code in it, a start and a result line for every step, the table at the end,
and Ray's own lines in the log file instead."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.conftest import REPO_ROOT
from tests.workloads.serving_fixtures import serve_base_url
from tools import demo

ANSI = re.compile(r"\x1b\[")
# What Ray, Ray Train, Ray Data and Serve write when their lines reach the terminal.
RAY_LOG_LINE = re.compile(
    r"^\s*\((?:[\w.:-]+ )?pid=\d+"  # forwarded from a worker: "(TrainController pid=123) ..."
    r"|^\s*\((?:raylet|autoscaler|gcs_server)\b"  # forwarded from Ray's own processes
    r"|^\s*\[?\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d"  # timestamped: Python logging, "[2026-... E 12 34] x.cc"
    r"|^\s*(?:INFO|WARNING|WARN|ERROR|DEBUG|CRITICAL)\b"  # Serve's "INFO 2026-...", level-first lines
    r"|^\s*[IWEF]\d{4} \d\d:\d\d:\d\d"  # glog: "E1206 09:31:02.123456 ..."
    r"|^\s*=* ?Running Dataset|^\s*={10,}\s*$|Dataset \w+ execution finished"  # Ray Data's progress
    r"|Traceback \(most recent call last\)"
)
TABLE_ROWS = ("data", "preprocess", "training", "serving", "embeddings", "MLflow data", "log", "total")


def report_problems(output: str) -> list[str]:
    """What keeps `output` (the demo's stdout) from reading like a report."""
    problems = [f"ANSI code in: {line!r}" for line in output.splitlines() if ANSI.search(line)]
    problems += [f"a log line: {line!r}" for line in output.splitlines() if RAY_LOG_LINE.search(line)]
    for step in range(1, demo.STEPS + 1):
        start = re.search(
            # Its progress lines (epochs, requests: plain lines in a pipe) may come before the result.
            rf"^\[{step}/{demo.STEPS}\] \S.*\n(?: {{6}}\S.*\n)* {{6}}\S.*\(\d[\d.]* (?:s|min \d+ s)\)$",
            output,
            re.M,
        )
        if not start:
            problems.append(f"step {step}: no start line followed by its result line")
    table = output.split("\nSummary\n", 1)
    if len(table) < 2:
        problems.append("no Summary table")
    else:
        rows = dict(re.findall(r"^  (\S.*?)  +(\S.*)$", table[1], re.M))
        problems += [f"the table has no '{row}' row" for row in TABLE_ROWS if row not in rows]
    return problems


@pytest.mark.parametrize(("argv", "message"), [(["--epochs", "0"], "--epochs must be at least 1"),
                                               (["--epochs", "two"], "invalid int value")])  # fmt: skip
def test_bad_arguments_are_usage_errors(argv, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        demo.main([*argv, "--workdir", str(tmp_path / "demo")])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "demo").exists()  # nothing started, nothing written


CLEAN_REPORT = """ray-aks demo: the ML pipeline on a local Ray; Ray's own logs go to .cache/demo/demo.log
{steps}
Summary
  data         1,347 training and 450 test digits
  preprocess   1,347 rows in 11.9 s
  training     test accuracy 0.967, 3 epochs in 1 min 9 s
  serving      accuracy 0.967, 97 requests/s (450 requests)
  embeddings   3/3 queries found their document, 384 dimensions
  MLflow data  .cache/demo/mlflow (runs in mlflow.db, models in artifacts/)
  log          .cache/demo/demo.log
  total        3 min 41 s
""".format(
    steps="\n".join(f"[{n}/{demo.STEPS}] step {n}\n      done ({n}.5 s)" for n in range(1, demo.STEPS + 1))
)


@pytest.mark.parametrize(
    "line",
    [
        "(TrainController pid=40312) E 2026-12-05 09:31:02,123 preemption_callback.py:93 -- Failed to kill",
        "(raylet) [2026-12-05 09:31:02,123 E 40100 40100] worker_pool.cc:581: Some workers",
        "2026-12-05 09:30:01,123\tINFO worker.py:2007 -- Started a local Ray instance.",
        "[2026-12-05 09:30:01,123 E 39987 39987] core_worker.cc:512: Failed to register",
        "INFO 2026-12-05 09:33:12,456 serve 39987 -- Started Serve in namespace 'serve'.",
        "WARNING 2026-12-05 09:35:40,001 serve 39987 -- Controller failed to shut down within 30.0s.",
        "E1205 09:31:02.123456 40100 40100 gcs_client.cc:91] Failed to connect",
        "======= Running Dataset: dataset_3_0 =======",
        "==========================================",
        "Dataset dataset_3_0 execution finished in 4.21 seconds",
        "\x1b[36m(MnistServer pid=41022)\x1b[0m ready",
    ],
)
def test_the_check_finds_ray_log_lines_and_colour_codes(line: str) -> None:
    """The check below would fail on any of these (seen on the terminal before the demo was quiet)."""
    assert not report_problems(CLEAN_REPORT)
    steps_end = CLEAN_REPORT.index("\nSummary")
    polluted = CLEAN_REPORT[:steps_end] + "\n" + line + CLEAN_REPORT[steps_end:]
    assert report_problems(polluted)


def test_the_check_wants_every_step_and_the_table() -> None:
    assert report_problems(CLEAN_REPORT.replace("[3/7] step 3\n", ""))
    assert report_problems(CLEAN_REPORT.replace("  embeddings   3/3", "  vectors   3/3"))
    assert report_problems(CLEAN_REPORT.split("\nSummary")[0])


@pytest.fixture
def another_serve(ray_local: None) -> str:
    """The session's Serve, running while the demo starts its own, as `ray-aks serve` in another
    terminal would: the two must not collide on a port (local_ray.LOCAL_SERVE_PORT_ENV)."""
    return serve_base_url()


@pytest.mark.slow
def test_the_piped_demo_reads_like_a_report(tmp_path: Path, another_serve: str) -> None:
    """The real demo (1 epoch), stdout a pipe as in `make demo | tee`: a report, nothing on stderr
    (no warning while it shuts down), and Ray's own lines in the log it names. Another local Serve
    runs meanwhile (another_serve) and still answers afterwards."""
    workdir = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    result = subprocess.run(
        [sys.executable, "-m", "tools.demo", "--workdir", str(workdir), "--epochs", "1"],
        cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    log = workdir / "demo.log"
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{log.read_text()[-5000:]}"
    assert not report_problems(result.stdout), result.stdout
    assert result.stderr == ""
    assert str(log) in result.stdout or "demo.log" in result.stdout
    assert re.search(r"^  training +test accuracy 0\.\d+, 1 epochs", result.stdout, re.M)
    assert re.search(r"^  serving +accuracy 0\.\d+, \d+ requests/s \(450 requests\)", result.stdout, re.M)
    logged = log.read_text()
    assert "Started a local Ray instance" in logged  # Ray's own lines went to the log, not nowhere
    assert "preprocess:" in logged  # and the workloads' own
    # The other Serve still answers (any status: it may have no app deployed); raises if it does not.
    requests.get(f"{another_serve}/-/routes", timeout=30)
