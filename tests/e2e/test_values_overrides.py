"""The e2e cluster runs the chart's defaults: tests/e2e/values-e2e.yaml (and the registry values the
tests add with --set) override only keys listed with a reason in tests/e2e/overrides.py, and each
override in the file carries a comment saying why."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.e2e import overrides
from tests.e2e.kube import VALUES

DEFAULTS = REPO_ROOT / "charts" / "ray-aks" / "values.yaml"
# What tests/e2e/kube.py's image_args sets at install (a registry made by the test).
SET_AT_INSTALL = [
    "global.imageRegistry",
    "global.imagePullSecrets",
    "rayCluster.image.registry",
    "mlflow.image.registry",
]
MISSING = object()


def leaves(values: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted key -> value for every leaf (a list or an empty map counts as one value)."""
    if isinstance(values, dict) and values:
        found = {}
        for key, value in values.items():
            found |= leaves(value, f"{prefix}.{key}" if prefix else str(key))
        return found
    return {prefix: values}


def lookup(values: dict, key: str) -> Any:
    for part in key.split("."):
        if not isinstance(values, dict) or part not in values:
            return MISSING
        values = values[part]
    return values


def e2e_overrides() -> dict[str, Any]:
    """Each leaf of values-e2e.yaml whose value differs from the chart's default."""
    defaults = yaml.safe_load(DEFAULTS.read_text())
    e2e = leaves(yaml.safe_load(VALUES.read_text()))
    return {key: value for key, value in e2e.items() if lookup(defaults, key) != value}


def test_every_override_has_a_listed_reason():
    unlisted = [key for key in [*e2e_overrides(), *SET_AT_INSTALL] if overrides.reason(key) is None]
    assert not unlisted, (
        f"values-e2e.yaml overrides keys with no reason in tests/e2e/overrides.py: {unlisted}"
    )


def test_no_key_is_set_to_its_default():
    """An override equal to the chart's default hides nothing, but reads as a difference: leave it out."""
    defaults = yaml.safe_load(DEFAULTS.read_text())
    same = [k for k, v in leaves(yaml.safe_load(VALUES.read_text())).items() if lookup(defaults, k) == v]
    assert not same, f"values-e2e.yaml repeats the chart's defaults: {same}"


def test_every_listed_reason_covers_an_override():
    """A reason whose key is no longer overridden is stale: remove it, so the list stays the truth."""
    unused = set(overrides.REASONS) - overrides.patterns_used([*e2e_overrides(), *SET_AT_INSTALL])
    assert not unused, f"tests/e2e/overrides.py lists reasons for keys nobody overrides: {sorted(unused)}"


def commented_lines(text: str) -> set[int]:
    """0-based numbers of the lines a comment explains: the key right below a `#` line, with the keys
    nested under it, and any line with a trailing comment."""
    lines = text.splitlines()

    def indent(line: str) -> int:
        return len(line) - len(line.lstrip())

    explained: set[int] = set()
    for number, line in enumerate(lines):
        if " # " in line and not line.lstrip().startswith("#"):
            explained.add(number)
        if not line.lstrip().startswith("#") or (
            number + 1 < len(lines) and lines[number + 1].lstrip().startswith("#")
        ):
            continue
        key = number + 1
        if key >= len(lines) or not lines[key].strip():
            continue
        explained.add(key)
        nested = key + 1
        while nested < len(lines) and lines[nested].strip() and indent(lines[nested]) > indent(lines[key]):
            explained.add(nested)
            nested += 1
    return explained


def key_lines(text: str) -> dict[str, int]:
    """Dotted key of each leaf -> the 0-based line where it is written."""
    found: dict[str, int] = {}

    def walk(node: yaml.Node, prefix: str) -> None:
        if isinstance(node, yaml.MappingNode) and node.value:
            for key, value in node.value:
                walk(value, f"{prefix}.{key.value}" if prefix else key.value)
        else:
            found[prefix] = node.start_mark.line

    walk(yaml.compose(text), "")
    return found


def test_each_override_in_the_file_carries_a_comment():
    text = VALUES.read_text()
    explained, lines = commented_lines(text), key_lines(text)
    bare = [key for key in e2e_overrides() if lines[key] not in explained]
    assert not bare, f"values-e2e.yaml overrides without a comment above them: {bare}"


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("rayCluster.head.resources.limits.cpu", overrides.SIZES),
        ("rayService.applications.mnist.autoscalingConfig.max_replicas", overrides.SIZES),
        ("rayCluster.autoscaler.enabled", None),
        ("mlflow.resources.limits.memory", None),
    ],
)
def test_the_reason_patterns_match_what_they_say(key, expected):
    assert overrides.reason(key) == expected
