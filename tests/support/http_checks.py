"""Checks on the answers of the apps' HTTP APIs, shared by their tests."""

from __future__ import annotations

from typing import Any

import requests


def assert_refused(response: requests.Response, status: int, reason: str) -> None:
    """A bad request's answer: this 4xx status, with the reason the client needs to fix its request."""
    assert response.status_code == status, response.text
    assert reason in response.text


def json_answer(response: requests.Response) -> Any:
    """The JSON body of a successful (200) answer; a failure shows the error body instead."""
    assert response.status_code == 200, response.text
    return response.json()
