"""Kubernetes' own OpenAPI v3 spec -> standalone strict JSON schemas, one file per kind.

Input: the `api/openapi-spec/v3` directory of the k8s.io/kubernetes Go module (fetched with
`go mod download`). Output: `<out>/<kind><kind suffix>.json` (e.g. deployment-apps-v1.json), the
layout kubeconform's default schema-location template expects under
`v<version>-standalone-strict/`. Alpha API versions are left out: clusters do not serve them by
default, so a chart that uses one fails with "could not find schema". Each file is standalone:
the definitions it reaches are copied into its own `definitions`, so no file refers to another
(recursive types stay valid).

    python -m tools.schemas.k8s_openapi SPEC_V3_DIR OUT_DIR
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tools.schemas.strict import kind_suffix, strict

PREFIX = "#/components/schemas/"


def load_definitions(spec_dir: Path) -> dict[str, Any]:
    """Every component schema of every group-version file (a name means the same type everywhere)."""
    definitions: dict[str, Any] = {}
    files = sorted(spec_dir.glob("*.json"))
    if not files:
        raise SystemExit(f"k8s_openapi: no *.json OpenAPI v3 files in {spec_dir}")
    for path in files:
        definitions.update(json.loads(path.read_text()).get("components", {}).get("schemas", {}))
    return definitions


def reachable(name: str, definitions: dict[str, Any]) -> list[str]:
    """Names of the definitions `name` refers to, directly or not, itself included."""
    seen: list[str] = []
    todo = [name]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.append(current)
        stack: list[Any] = [definitions[current]]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                target = node.get("$ref")
                if isinstance(target, str) and target.startswith(PREFIX):
                    todo.append(target[len(PREFIX) :])
                stack.extend(node.values())
            elif isinstance(node, list):
                stack.extend(node)
    return seen


def local_ref(target: str) -> str:
    return "#/definitions/" + target[len(PREFIX) :] if target.startswith(PREFIX) else target


def kind_schema(name: str, group: str, version: str, kind: str, definitions: dict[str, Any]) -> dict:
    root = strict(definitions[name], local_ref)
    api_version = f"{group}/{version}" if group else version
    props = root.setdefault("properties", {})
    # The file is only ever used for this apiVersion and kind; say so.
    props["apiVersion"] = {"type": "string", "enum": [api_version]}
    props["kind"] = {"type": "string", "enum": [kind]}
    root["required"] = sorted({*root.get("required", []), "apiVersion", "kind"})
    root["definitions"] = {
        dep: strict(definitions[dep], local_ref) for dep in reachable(name, definitions) if dep != name
    }
    root["$schema"] = "http://json-schema.org/draft-07/schema#"
    return root


def convert(spec_dir: Path, out_dir: Path) -> int:
    definitions = load_definitions(spec_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = 0
    for name, schema in sorted(definitions.items()):
        gvks = schema.get("x-kubernetes-group-version-kind") or []
        # Types listed under many kinds (DeleteOptions, WatchEvent, ...) are not objects one applies.
        if len(gvks) != 1 or "kind" not in schema.get("properties", {}):
            continue
        gvk = gvks[0]
        group, version, kind = gvk["group"], gvk["version"], gvk["kind"]
        if "alpha" in version:
            continue  # alpha APIs are off on AKS (and by default upstream): using one is an error
        path = out_dir / f"{kind.lower()}{kind_suffix(group, version)}.json"
        path.write_text(json.dumps(kind_schema(name, group, version, kind, definitions), sort_keys=True))
        written += 1
    if written == 0:
        raise SystemExit(f"k8s_openapi: no kinds found in {spec_dir}")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("spec_dir", type=Path, help="api/openapi-spec/v3 of k8s.io/kubernetes")
    parser.add_argument("out_dir", type=Path)
    args = parser.parse_args(argv)
    count = convert(args.spec_dir, args.out_dir)
    print(f"k8s_openapi: {count} kind schemas from {args.spec_dir} -> {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
