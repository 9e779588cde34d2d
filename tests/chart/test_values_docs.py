"""Every key of the chart's values.yaml carries a helm-docs `# --` comment.

helm-docs' own --documentation-strict-mode cannot check this: it only counts comments that name
their key (`# key.path -- ...`), not the `# --` comments it documents (norwoodj/helm-docs#228).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tools.render_chart import CHART_DIR

VALUES = CHART_DIR / "values.yaml"
KEY_LINE = re.compile(r"^(?P<indent>\s*)(?P<key>[A-Za-z0-9_.\-/]+):(\s|$)")
DOC_START = re.compile(r"^\s*# -- \S")
DOC_MORE = re.compile(r"^\s*#( |$)")


def key_lines(lines: list[str]) -> list[tuple[int, str]]:
    """(line index, dotted path) of every mapping key, parents from indentation."""
    found: list[tuple[int, str]] = []
    parents: list[tuple[int, str]] = []
    for number, line in enumerate(lines):
        match = KEY_LINE.match(line)
        if not match:
            continue
        indent = len(match["indent"])
        while parents and parents[-1][0] >= indent:
            parents.pop()
        found.append((number, ".".join([p[1] for p in parents] + [match["key"]])))
        parents.append((indent, match["key"]))
    return found


def undocumented_keys(path: Path) -> list[str]:
    """Dotted paths of keys without a `# --` comment block directly above them."""
    lines = path.read_text().splitlines()
    missing: list[str] = []
    for number, dotted in key_lines(lines):
        above = number - 1
        while above >= 0 and DOC_MORE.match(lines[above]) and not DOC_START.match(lines[above]):
            above -= 1
        if above < 0 or not DOC_START.match(lines[above]):
            missing.append(dotted)
    return missing


def leaf_and_parent_keys(node: object, prefix: str = "") -> list[str]:
    """Every mapping key of the parsed values, dotted, parents included."""
    keys: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            dotted = f"{prefix}{key}"
            keys.append(dotted)
            keys.extend(leaf_and_parent_keys(value, f"{dotted}."))
    return keys


def test_every_values_key_has_a_helm_docs_comment() -> None:
    assert undocumented_keys(VALUES) == []


def test_the_line_scan_sees_every_key_yaml_sees() -> None:
    scanned = [dotted for _, dotted in key_lines(VALUES.read_text().splitlines())]
    assert sorted(scanned) == sorted(leaf_and_parent_keys(yaml.safe_load(VALUES.read_text())))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("# -- documented\na: 1\n", []),
        ("a: 1\n", ["a"]),
        ("# -- parent\nparent:\n  # a plain comment\n  child: 1\n", ["parent.child"]),
        ("# -- parent\nparent:\n  # -- child, two lines\n  # more\n  # @default -- x\n  child: 1\n", []),
    ],
)
def test_undocumented_keys_reads_comment_blocks(tmp_path: Path, text: str, expected: list[str]) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(text)
    assert undocumented_keys(values) == expected
