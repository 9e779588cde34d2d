"""Ray's state API, aimed at the session's local Ray (tests/ray_session.py)."""

from __future__ import annotations

from typing import Any

from tests.ray_session import dashboard_address


def list_alive_actors(**filters: str) -> list[Any]:
    """ALIVE actors of the session's Ray, filtered by equality on the given fields."""
    from ray.util.state import list_actors

    predicates = [("state", "=", "ALIVE"), *((key, "=", value) for key, value in filters.items())]
    address = f"http://{dashboard_address()}"
    return list_actors(address=address, filters=predicates, limit=10_000, raise_on_missing_output=False)
