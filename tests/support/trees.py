"""Walking parsed YAML or JSON (dicts, lists and plain values), for checks that look for a key at
any depth."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def mappings(node: Any) -> Iterator[dict[str, Any]]:
    """Every dict in `node`, itself included, depth first: a dict before the dicts inside it."""
    if isinstance(node, dict):
        yield node
        children = node.values()
    elif isinstance(node, list):
        children = node
    else:
        return
    for child in children:
        yield from mappings(child)
