"""Values the chart's schema accepts, generated from the schema: start from values.yaml (and
sometimes the GPU overlay) and give every boolean, enum and bounded integer the schema declares a
random allowed value. Free-form maps get random string entries (annotations, labels).

Only what jsonschema accepts against values.schema.json is returned, so a generated file is a
values combination a user could install (unless a template `fail` refuses it).
"""

from __future__ import annotations

import copy
import random
import re
from typing import Any

import jsonschema

from tests.reliability.values_mutator import SUBCHART_KEY, ValuesMutator, _resolve, subschema

STRING_FILLS = [
    "fuzz-a1",
    "fuzz-b2",
    "00000000-0000-0000-0000-000000000000",
    "redis.example.internal:6380",
    "sha256:" + "a" * 64,
]


def _vary(rng: random.Random, root: dict[str, Any], node: Any, path: tuple, p: float) -> Any:
    sub = subschema(root, path) if path else root
    sub = _resolve(root, sub) or {}
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if not path and key == SUBCHART_KEY:
                out[key] = {"enabled": rng.random() < 0.5}
                continue
            out[key] = _vary(rng, root, value, (*path, key), p)
        extra = sub.get("additionalProperties")
        if isinstance(extra, dict) and extra.get("type") == "string" and rng.random() < p:
            out[f"fuzz.example.com/k{rng.randrange(100)}"] = rng.choice(["true", "8265", "10001", "x"])
        return out
    if isinstance(node, list):
        return [_vary(rng, root, item, (*path, i), p) for i, item in enumerate(node)]
    if node == "" and sub.get("type") == "string" and "enum" not in sub and rng.random() < 0.7:
        # Fill an optional string (a name, an id, an address): the schema's pattern, if any, filters.
        fits = [f for f in STRING_FILLS if re.search(sub.get("pattern", ""), f)]
        return rng.choice(fits) if fits else node
    if rng.random() >= p:
        return node
    if "enum" in sub:
        return rng.choice(sub["enum"])
    kind = sub.get("type")
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "integer" and "minimum" in sub and "maximum" in sub:
        return rng.randint(sub["minimum"], min(sub["maximum"], sub["minimum"] + 100_000))
    return node


def accepted_values(count: int, seed: int = 8265, p: float = 0.3, tries: int = 50) -> list[dict[str, Any]]:
    """`count` values files the schema accepts (each a pure function of the seed and its index)."""
    mutator = ValuesMutator()
    root = mutator.schema
    validator = jsonschema.validators.validator_for(root)(root)
    found = []
    for n in range(count):
        rng = random.Random(f"{seed}-{n}")
        for _ in range(tries):
            base = copy.deepcopy(mutator.bases["gpu" if rng.random() < 0.4 else "defaults"])
            values = _vary(rng, root, base, (), p)
            if validator.is_valid(values):
                found.append(values)
                break
    return found
