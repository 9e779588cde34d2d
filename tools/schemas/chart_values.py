"""The chart's values.schema.json: hand-written, with the Kubernetes types and a few facts filled in.

The schema is its own source. What is written by hand: every chart key, the shared definitions
(`podGroup`, `resources`, `image`, ...) and `$ref`s such as
`{"$ref": "#/definitions/io.k8s.api.core.v1.Affinity"}` wherever a value takes a Kubernetes type.
What this fills in, each time from scratch (so the command is idempotent):

- `definitions.io.k8s.*`: every Kubernetes type the schema refers to and every type those reach,
  from Kubernetes' own OpenAPI v3 documents (`api/openapi-spec/v3` of the k8s.io/kubernetes Go
  module, the same documents tools/schemas/k8s_openapi.py reads), made strict the same way
  (tools/schemas/strict.py: no unknown fields where the type is closed, int-or-string and quantities
  take a string or a number) and with the upstream prose left out: structure only. Helm validates
  with this one file offline, so nothing may point outside it.
- `description` of every key that values.yaml documents with a helm-docs `# --` comment: the
  comment's text (its `# @default --` line and a leading `(type)` left out). A definition shared by
  several entries of a map (`rayJobs.<job>`, `workerGroups.<group>`) takes the first entry's text,
  the one values.yaml documents for all (`mnist`, `cpu`). Keys inside a Kubernetes type keep none.
- `definitions.clusterOverrides` and `definitions.workerGroupOverrides`, derived from `rayCluster`
  (tools/cluster_overrides_schema.py).

    python -m tools.schemas.chart_values SPEC_V3_DIR [--chart DIR]

`make schema` runs it on charts/ray-aks; `make schema-check` regenerates into a copy and diffs.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tools.schemas.k8s_openapi import PREFIX, load_definitions, reachable
from tools.schemas.strict import strict

K8S = "io.k8s."
LOCAL = "#/definitions/"
INTEGER_BOUNDS = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}

KEY_LINE = re.compile(r"^(?P<indent>\s*)(?P<key>[A-Za-z0-9_.\-/]+):(\s|$)")
DOC_START = re.compile(r"^\s*# -- ?(?P<text>.*)$")
DOC_MORE = re.compile(r"^\s*#( (?P<text>.*))?$")
ANNOTATION = re.compile(r"^@\w+")
TYPE_PREFIX = re.compile(r"^\((?P<type>[a-z]+)\)\s*")


# --- values.yaml's `# --` comments ----------------------------------------------------------------


def key_paths(lines: list[str]) -> Iterator[tuple[int, tuple[str, ...]]]:
    """(line index, key path) of every mapping key of a values file; parents from indentation."""
    parents: list[tuple[int, str]] = []
    for number, line in enumerate(lines):
        match = KEY_LINE.match(line)
        if not match:
            continue
        indent = len(match["indent"])
        while parents and parents[-1][0] >= indent:
            parents.pop()
        yield number, (*[p[1] for p in parents], match["key"])
        parents.append((indent, match["key"]))


def doc_block_start(lines: list[str], number: int) -> int | None:
    """The index of the `# --` line opening the comment block right above line `number`, if any."""
    start = number - 1
    while start >= 0 and DOC_MORE.match(lines[start]) and not DOC_START.match(lines[start]):
        start -= 1
    return start if start >= 0 and DOC_START.match(lines[start]) else None


def documented_keys(text: str) -> Iterator[tuple[tuple[str, ...], str]]:
    """(key path, comment text) of every key of a values file that has a `# --` comment block."""
    lines = text.splitlines()
    for number, path in key_paths(lines):
        start = doc_block_start(lines, number)
        if start is None:
            continue
        first = DOC_START.match(lines[start])
        assert first is not None
        words = [first["text"]]
        for more in lines[start + 1 : number]:
            rest = (DOC_MORE.match(more)["text"] or "").strip()  # type: ignore[index]
            if ANNOTATION.match(rest):
                break
            words.append(rest)
        yield path, TYPE_PREFIX.sub("", " ".join(w for w in words if w).strip())


# --- walking the schema along a values path ----------------------------------------------------------


def resolve(root: dict[str, Any], node: Any) -> Any:
    """Follow local $refs (JSON pointers into the schema itself)."""
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/"):
        target: Any = root
        for part in node["$ref"][2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def _ref_name(node: Any) -> str:
    ref = node.get("$ref", "") if isinstance(node, dict) else ""
    return ref[len(LOCAL) :].split("/")[0] if ref.startswith(LOCAL) else ""


def property_node(root: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any] | None:
    """The schema node a values path is declared by: its last key is a declared property (not an
    entry of a free map), and the way there enters no shared definition (`resources`, `image`, a
    Kubernetes type, ...) through a property. Entries of a map (`rayJobs.<job>`) share theirs."""
    node: Any = root
    declared = False
    for key in path:
        if declared and "$ref" in node:
            return None  # a key inside a definition that other properties use too
        node = resolve(root, node)
        if not isinstance(node, dict):
            return None
        props = node.get("properties") or {}
        if key in props:
            node, declared = props[key], True
        elif isinstance(node.get("additionalProperties"), dict):
            node, declared = node["additionalProperties"], False
        else:
            return None
    return node if declared and isinstance(node, dict) else None


def documented_nodes(root: dict[str, Any], values_text: str) -> list[tuple[tuple[str, ...], dict, str]]:
    """(values path, schema node, comment) for each documented key; a node shared by several
    entries of a map is listed for its first entry only."""
    seen: set[int] = set()
    out = []
    for path, text in documented_keys(values_text):
        node = property_node(root, path)
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        out.append((path, node, text))
    return out


# --- generation ----------------------------------------------------------------------------------


def _k8s_refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if (name := _ref_name(node)).startswith(K8S):
            yield name
        for value in node.values():
            yield from _k8s_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _k8s_refs(value)


def _simplify(node: Any) -> Any:
    """Structure only: no defaults, `allOf: [{$ref}]` (how OpenAPI v3 puts prose or a default
    beside a reference) is the plain reference, and an int32/int64 field takes that type's range."""
    if isinstance(node, list):
        return [_simplify(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _simplify(value) for key, value in node.items() if key != "default"}
    if out.get("type") == "integer" and out.get("format") in INTEGER_BOUNDS:
        # What the API server's decoder enforces: a number past the field's Go type is refused.
        low, high = INTEGER_BOUNDS[out["format"]]
        out.setdefault("minimum", low)
        out.setdefault("maximum", high)
    all_of = out.get("allOf")
    if isinstance(all_of, list) and len(all_of) == 1 and set(all_of[0]) == {"$ref"}:
        out.pop("allOf")
        out = {**out, **all_of[0]}
    return out


def kubernetes_definitions(names: set[str], spec_dir: Path) -> dict[str, Any]:
    """The named Kubernetes types and every type they reach, strict, prose-free, local refs."""
    upstream = load_definitions(spec_dir)
    missing = sorted(n for n in names if n not in upstream)
    if missing:
        raise SystemExit(f"chart_values: {', '.join(missing)} not in the OpenAPI documents of {spec_dir}")

    def local(target: str) -> str:
        return LOCAL + target[len(PREFIX) :] if target.startswith(PREFIX) else target

    wanted: set[str] = set()
    for name in names:
        wanted.update(reachable(name, upstream))
    return {name: _simplify(strict(upstream[name], local)) for name in sorted(wanted)}


def generate(schema: dict[str, Any], values_text: str, spec_dir: Path) -> dict[str, Any]:
    # Imported here: cluster_overrides_schema imports the chart paths, this module only the schema.
    from tools.cluster_overrides_schema import derive

    definitions = schema.setdefault("definitions", {})
    for name in [n for n in definitions if n.startswith(K8S)]:
        del definitions[name]
    for _path, node, text in documented_nodes(schema, values_text):
        node["description"] = text
    definitions.update(derive(schema))
    definitions.update(kubernetes_definitions(set(_k8s_refs(schema)), spec_dir))
    return schema


def dump(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("spec_dir", type=Path, help="api/openapi-spec/v3 of k8s.io/kubernetes")
    parser.add_argument("--chart", type=Path, default=Path("charts/ray-aks"), help="the chart folder")
    args = parser.parse_args(argv)
    path = args.chart / "values.schema.json"
    schema = generate(json.loads(path.read_text()), (args.chart / "values.yaml").read_text(), args.spec_dir)
    path.write_text(dump(schema))
    k8s = sum(1 for name in schema["definitions"] if name.startswith(K8S))
    print(f"chart_values: wrote {path} ({k8s} Kubernetes definitions from {args.spec_dir})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
