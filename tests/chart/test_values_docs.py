"""Every key of the chart's values.yaml carries a helm-docs `# --` comment.

helm-docs' own --documentation-strict-mode cannot check this: it only counts comments that name
their key (`# key.path -- ...`), not the `# --` comments it documents (norwoodj/helm-docs#228).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tools.render_chart import CHART_DIR
from tools.schemas.chart_values import doc_block_start, key_paths

VALUES = CHART_DIR / "values.yaml"


def key_lines(lines: list[str]) -> list[tuple[int, str]]:
    """(line index, dotted path) of every mapping key: the scan `make schema` reads descriptions with."""
    return [(number, ".".join(path)) for number, path in key_paths(lines)]


def undocumented_keys(path: Path) -> list[str]:
    """Dotted paths of keys without a `# --` comment block directly above them."""
    lines = path.read_text().splitlines()
    return [dotted for number, dotted in key_lines(lines) if doc_block_start(lines, number) is None]


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
