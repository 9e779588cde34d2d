"""Helpers for the serving and embedding tests: one Serve HTTP proxy per session, small real models.

Serve starts once per test process on a free loopback port (other helpers share this machine);
each test module deploys its app and deletes it afterwards so replicas never pile up on 2 CPUs.
"""

from __future__ import annotations

import base64
import io
import re
import socket
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import numpy as np
import requests

from images import download_models
from tests.conftest import free_port

# Small replicas: 2 CPUs are shared with Ray Data and Ray Train tests.
REPLICA = {"ray_actor_options": {"num_cpus": 0.5}, "torch_threads": 1}

_serve_port: int | None = None


def read_reply(conn: socket.socket, until: bytes) -> str:
    """What the server sent on a raw connection, read until `until` arrives or the server closes
    (headers and body may come in separate packets)."""
    reply = b""
    while until not in reply and (chunk := conn.recv(65536)):
        reply += chunk
    return reply.decode(errors="replace")


def serve_base_url() -> str:
    """Start Serve (once per process) on the session's Ray and return its HTTP ingress's base URL."""
    global _serve_port
    from ray_aks.serving.local import start_serve

    if _serve_port is None:
        port = free_port()
        start_serve(port=port)
        _serve_port = port
    return f"http://127.0.0.1:{_serve_port}"


@contextmanager
def deployed(application: Any, name: str, route_prefix: str) -> Iterator[str]:
    """serve.run the app, yield its URL, delete it afterwards."""
    from ray import serve

    base = serve_base_url()
    serve.run(application, name=name, route_prefix=route_prefix)
    try:
        yield base + route_prefix.rstrip("/")
    finally:
        serve.delete(name)


def concurrently(
    call: Callable[[int], requests.Response], count: int, workers: int = 16
) -> list[requests.Response]:
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(call, range(count)))


def cli_text(output: str) -> str:
    """CLI output with rich's error box and line wrapping undone, for matching whole messages."""
    return " ".join(re.sub("[│╭╮╰╯─]", " ", output).split())


def assert_no_server_errors(url: str, max_examples: int = 30) -> int:
    """Fuzz every operation of the app's OpenAPI schema (valid and invalid requests) over real HTTP.

    Whatever a client sends, the answer is never a 5xx. Returns the number of requests made.
    """
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st

    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    cases = st.one_of(
        schema.as_strategy(schemathesis.GenerationMode.POSITIVE),
        schema.as_strategy(schemathesis.GenerationMode.NEGATIVE),
    )
    calls = []

    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases)
    def never_5xx(case) -> None:
        response = case.call(base_url=url, timeout=60)
        calls.append(response.status_code)
        assert response.status_code < 500, (
            f"{case.as_curl_command()} -> {response.status_code} {response.text}"
        )

    never_5xx()
    return len(calls)


def png_bytes(pixels: np.ndarray, fmt: str = "PNG") -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt)
    return buffer.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# The small models an offline image build bakes (images/download_models.py): the same builders.
TINY_CORPUS = download_models.TINY_CORPUS
build_tiny_gpt2 = download_models.build_test_causal_lm
build_tiny_clip = download_models.build_test_clip
