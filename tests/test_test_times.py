"""`make test`'s timing runner (tools/test_times.py): run on small Makefiles of its own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tools import test_times

RUNNER = REPO_ROOT / "tools" / "test_times.py"
MAKEFILE = """
fast: ; @echo fast ran
slow: ; @sleep 0.3
second: ; @sleep 1
build: ; @sleep 1 && echo build ran && touch built
needs-build: ; @test -f built && echo needs-build ran
broken: ; @exit 3
never: ; @echo never ran
pytests: ; @mkdir -p $$TEST_TIMES_DIR && \
  echo '{"t.py::a": 4.0, "t.py::b": 9.5}' > $$TEST_TIMES_DIR/pytest-1.json
"""


def runner(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(RUNNER), *args], cwd=workdir, capture_output=True, text=True, check=False
    )


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "Makefile").write_text(MAKEFILE)
    return tmp_path


def test_each_step_is_timed_and_the_table_is_printed(workdir):
    result = runner(workdir, "run", "--recorded", "recorded.json", "fast", "slow", "pytests")
    assert result.returncode == 0, result.stderr
    times = json.loads((workdir / ".cache" / "test-times.json").read_text())
    assert [s["name"] for s in times["steps"]] == ["fast", "slow", "pytests"]
    assert times["steps"][1]["seconds"] >= 0.3
    assert times["passed"] is True
    assert "fast ran" in result.stdout
    assert "where the time went" in result.stdout and "estimate for a fresh machine" in result.stdout


def test_a_step_beside_others_runs_while_they_run_and_has_passed_before_its_join_step(workdir):
    # build (1 s) beside three foreground steps of 1 s: margins of a second, which a machine busy
    # with other builds (make test's own, on 2 cores) does not use up.
    steps = ["build&needs-build", "second", "second", "second", "needs-build"]
    result = runner(workdir, "run", "--recorded", "recorded.json", *steps)
    assert result.returncode == 0, result.stdout + result.stderr
    times = json.loads((workdir / ".cache" / "test-times.json").read_text())
    assert [s["name"] for s in times["steps"]] == ["second"] * 3 + ["build", "needs-build"]
    seconds = {s["name"]: s["seconds"] for s in times["steps"]}
    assert times["passed"] is True
    # Its own time, not until it was joined (after the three foreground seconds).
    assert 1.0 <= seconds["build"] < 2.5
    # The wall time counts the overlap once: less than the sum of every step's time.
    assert times["total_s"] < sum(s["seconds"] for s in times["steps"]) - 0.5
    assert "build ran" in result.stdout and "needs-build ran" in result.stdout
    assert (workdir / ".cache" / "test-times" / "build.log").read_text().strip() == "build ran"


def test_a_failed_step_beside_others_stops_the_run_at_its_join_step(workdir):
    result = runner(workdir, "run", "--recorded", "recorded.json", "broken&never", "fast", "never")
    assert result.returncode == 2
    assert "fast ran" in result.stdout and "never ran" not in result.stdout
    times = json.loads((workdir / ".cache" / "test-times.json").read_text())
    assert [(s["name"], s["status"]) for s in times["steps"]] == [("fast", 0), ("broken", 2)]


def test_the_slowest_tests_come_from_each_pytest_run(workdir):
    runner(workdir, "run", "--recorded", "recorded.json", "pytests")
    times = json.loads((workdir / ".cache" / "test-times.json").read_text())
    assert times["slowest_tests"] == [
        {"step": "pytests", "test": "t.py::b", "seconds": 9.5},
        {"step": "pytests", "test": "t.py::a", "seconds": 4.0},
    ]


def test_a_failing_step_stops_the_run_with_its_status_and_still_prints_the_table(workdir):
    result = runner(workdir, "run", "--recorded", "recorded.json", "fast", "broken", "never")
    assert result.returncode == 2  # make's own status for a failed recipe
    assert "never ran" not in result.stdout
    assert "FAILED (2)" in result.stdout
    times = json.loads((workdir / ".cache" / "test-times.json").read_text())
    assert [s["name"] for s in times["steps"]] == ["fast", "broken"] and times["passed"] is False


def test_a_step_that_grew_by_more_than_half_is_named(workdir):
    recorded = {"cold": {"steps": {"slow": 0.1}}, "warm": {"steps": {"slow": 0.05}}}
    (workdir / "recorded.json").write_text(json.dumps(recorded))
    result = runner(workdir, "run", "--recorded", "recorded.json", "slow")
    assert "took more than half again their recorded time" in result.stdout
    assert "slow: 0:00 against 0:00 recorded (cold)" in result.stdout


def test_record_keeps_a_passing_run_and_rewrites_the_readme_block(workdir):
    runner(workdir, "run", "--recorded", "recorded.json", "fast", "pytests")
    readme = workdir / "README.md"
    readme.write_text("# t\n<!-- test-times -->\nold\n<!-- /test-times -->\nafter\n")
    result = runner(
        workdir, "record", "--kind", "warm", "--recorded", "recorded.json", "--readme", "README.md"
    )
    assert result.returncode == 0, result.stderr
    recorded = json.loads((workdir / "recorded.json").read_text())
    assert set(recorded["warm"]["steps"]) == {"fast", "pytests"}
    text = readme.read_text()
    assert "old" not in text and "| `pytests` | - |" in text and text.endswith("after\n")


def test_record_refuses_a_failed_run(workdir):
    runner(workdir, "run", "--recorded", "recorded.json", "broken")
    result = runner(workdir, "record", "--kind", "cold", "--recorded", "recorded.json")
    assert result.returncode != 0 and "no passing `make test` run" in result.stderr


def test_a_warm_step_is_given_back_its_cold_cache_work_in_the_estimate():
    recorded = {
        "cold": {"steps": {"tools": 600.0, "pytest": 700.0}},
        "warm": {"steps": {"tools": 10.0, "pytest": 650.0}},
    }
    steps = [test_times.Step("tools", 12.0, 0), test_times.Step("pytest", 660.0, 0)]
    # Both ran nearer their warm time: each gets its recorded cold-cache work (cold - warm) back.
    assert test_times.fresh_machine_estimate(steps, recorded) == pytest.approx(12 + 590 + 660 + 50)


def test_a_cold_step_counts_as_measured():
    recorded = {"cold": {"steps": {"tools": 600.0}}, "warm": {"steps": {"tools": 10.0}}}
    assert test_times.fresh_machine_estimate([test_times.Step("tools", 580.0, 0)], recorded) == 580.0


def test_the_steps_beside_a_step_are_those_up_to_its_join_step():
    tokens = ["tools", "e2e-tools&e2e", "test-containers", "lint", "e2e", "docs&never", "test-python"]
    spans = test_times.beside_spans(tokens)
    assert spans == {"e2e-tools": ["test-containers", "lint"], "docs": ["test-python"]}  # no join: to the end


def test_a_step_beside_others_adds_only_what_its_cold_work_makes_longer_than_theirs():
    recorded = {
        "cold": {"steps": {"e2e-tools": 1000.0, "images": 800.0, "e2e": 1300.0}},
        "warm": {"steps": {"e2e-tools": 50.0, "images": 200.0, "e2e": 1300.0}},
    }
    steps = [
        test_times.Step("images", 200.0, 0),
        test_times.Step("e2e-tools", 50.0, 0),
        test_times.Step("e2e", 1300.0, 0),
    ]
    beside = {"e2e-tools": ["images"]}
    # The span ran 200 s (images, the longer side); cold, the e2e tools' 1000 s would set it: +800, once.
    assert test_times.fresh_machine_estimate(steps, recorded, 1500.0, beside) == pytest.approx(1500 + 800)
    # Counted one after the other instead, both sides' cold-cache work would be added: +950 +600.
    assert test_times.fresh_machine_estimate(steps, recorded, 1500.0) == pytest.approx(1500 + 950 + 600)


def test_the_recorded_table_matches_the_readme():
    """README's test-times block is what `make test-times-record` writes from the recorded table."""
    recorded = json.loads((REPO_ROOT / "benchmarks" / "results" / "test-times.json").read_text())
    readme = (REPO_ROOT / "README.md").read_text()
    assert test_times.readme_table(recorded) in readme
