"""The load generator (ray_aks.serving.load) against a real HTTP server on loopback."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from ray_aks.serving.load import LoadResult, Outcome, run_load

from tests.conftest import free_port


class _Handler(BaseHTTPRequestHandler):
    """JSON: 200 for a body with "ok": true, 503 otherwise; image/png: 200 for PNG bytes, 415 for
    others. Echoes nothing."""

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers["Content-Type"] == "image/png":  # raw bytes: 200 for a PNG signature
            self.send_response(200 if raw.startswith(b"\x89PNG") else 415)
        else:
            self.send_response(200 if json.loads(raw).get("ok") else 503)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/predict"
    httpd.shutdown()
    httpd.server_close()


def test_a_bounded_count_is_sent_and_each_outcome_kept(server):
    result = run_load(server, lambda i: {"ok": i % 10 != 0}, concurrency=4, requests=50)
    assert result.sent == 50 and result.ok == 45 and result.failed == 5
    assert result.statuses == {200: 45, 503: 5}
    assert [what for _, what in result.failures] == ["503"] * 5
    assert all(0 <= t <= result.wall_s for t, _ in result.failures)


def test_a_time_bound_ends_the_load(server):
    # a second: the first request is sent unless the machine stalls the client that long
    result = run_load(server, lambda i: {"ok": True}, concurrency=2, seconds=1.0)
    assert result.sent > 0 and result.failed == 0
    assert result.wall_s < 5


def test_a_closed_port_counts_as_failed_transport_errors():
    result = run_load(f"http://127.0.0.1:{free_port()}/x", lambda i: {}, concurrency=2, requests=4)
    assert result.failed == 4 and result.statuses == {}
    assert sum(result.errors.values()) == 4


def test_a_load_without_an_end_is_refused():
    with pytest.raises(ValueError, match="a load must end"):
        run_load("http://127.0.0.1:1/", lambda i: {}, concurrency=1)


def test_the_command_prints_the_summary_as_json(server):
    done = subprocess.run(
        [sys.executable, "-m", "ray_aks.serving.load", server, "--json", '{"ok": true}', "--requests", "20"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["sent"] == 20 and summary["ok"] == 20 and summary["failed"] == 0


def test_the_command_also_writes_the_summary_to_its_output_file(server, tmp_path):
    output = tmp_path / "summary.json"
    done = subprocess.run(
        [sys.executable, "-m", "ray_aks.serving.load", server, "--json", '{"ok": false}', "--requests", "6",
         "--output", str(output)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(output.read_text()) == json.loads(done.stdout)
    assert json.loads(done.stdout)["statuses"] == {"503": 6}
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]  # nothing half-written left


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["http://x/", "--json", "{}"], "a load must end"),
        (["http://x/", "--json", "{nope", "--requests", "1"], "--json is not a JSON document"),
        (["http://x/", "--json", "{}", "--requests", "1", "--concurrency", "0"], "at least 1"),
    ],
)
def test_bad_arguments_get_usage_not_a_traceback(args, message):
    done = subprocess.run(
        [sys.executable, "-m", "ray_aks.serving.load", *args], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


def test_raw_bytes_go_with_their_content_type(server):
    png = run_load(server, lambda i: b"\x89PNG\r\n", concurrency=2, requests=6, content_type="image/png")
    assert png.statuses == {200: 6}
    other = run_load(server, lambda i: b"GIF89a", concurrency=2, requests=4, content_type="image/png")
    assert other.statuses == {415: 4}


def test_the_benchmarks_count_only_the_answers_inside_the_window():
    from benchmarks.loadgen import window_figures

    result = LoadResult(concurrency=2, wall_s=2.0)
    result.outcomes = [
        Outcome(0.0, 0.2, 200, ""),  # answered in the warm-up
        Outcome(0.2, 0.3, 200, ""),  # the window's edges count
        Outcome(0.5, 0.9, 503, ""),
        Outcome(0.6, 1.0, 0, "ClientConnectorError"),
        Outcome(0.9, 1.3, 200, ""),
        Outcome(1.2, 1.4, 200, ""),  # answered after the window
    ]
    figures = window_figures(result, warmup=0.3, seconds=1.0)
    assert (figures.ok, figures.failed, figures.first_failure) == (2, 2, "HTTP 503")
    assert figures.throughput == 2 / 1.0 and figures.p50_ms == pytest.approx(250)
    transport_only = window_figures(result, warmup=0.95, seconds=0.1)
    assert (transport_only.ok, transport_only.first_failure) == (0, "ClientConnectorError")


def test_the_benchmarks_measure_a_window_of_a_real_load(server):
    """What the window holds depends on the machine's speed (a busy one may answer nothing in it):
    the figures must agree with the answers whatever their number."""
    from benchmarks.loadgen import run_load as run_window

    measured = run_window(server, b'{"ok": true}', "application/json", concurrency=2, seconds=1.0, warmup=0.2)
    assert measured.failed == 0 and measured.first_failure is None
    assert measured.throughput == measured.ok / 1.0
    refused = run_window(server, b'{"ok": false}', "application/json", concurrency=2, seconds=0.5, warmup=0)
    assert refused.ok == 0 and refused.first_failure == ("HTTP 503" if refused.failed else None)


def test_a_stop_file_ends_the_load_before_its_time(server, tmp_path):
    stop = tmp_path / "stop"

    def body(i: int) -> dict:
        if i == 20:
            stop.touch()  # an event of the caller's: the clients send nothing more
        return {"ok": True}

    result = run_load(server, body, concurrency=2, seconds=60, stop_file=str(stop))
    assert result.failed == 0 and 20 < result.sent <= 23
    assert result.wall_s < 30
