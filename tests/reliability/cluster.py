"""The package's local Ray, as Ray's state API needs it: other Rays may run on this machine, and
the state API refuses to guess between them ("Found multiple active Ray instances")."""

from __future__ import annotations

from typing import Any

dashboard_url: str | None = None  # set by conftest.ray_local


def list_alive_actors(**filters: str) -> list[Any]:
    """ALIVE actors of this package's Ray, filtered by equality on the given fields."""
    from ray.util.state import list_actors

    assert dashboard_url, "the ray_local fixture has not started Ray"
    predicates = [("state", "=", "ALIVE"), *((key, "=", value) for key, value in filters.items())]
    return list_actors(
        address=f"http://{dashboard_url}", filters=predicates, limit=10_000, raise_on_missing_output=False
    )
