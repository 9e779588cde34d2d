"""CustomResourceDefinition YAML -> strict JSON schemas for kubeconform, one file per kind and version.

Takes any CRD files or directories of them (multi-document YAML is fine; other kinds are ignored)
and writes `<out>/<group>/<kind>_<version>.json` (kind lower-cased) for every served version,
the layout of the kubeconform schema-location template
`<out>/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json`.

    python -m tools.schemas.crds OUT_DIR CRD_FILE_OR_DIR... [--rename-group FROM=TO]

--rename-group also writes each FROM group's kinds under group TO, for API groups that serve the
same schema under another name (e.g. AKS managed Prometheus' azmonitoring.coreos.com).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

from tools.schemas.strict import strict

# libyaml when PyYAML has it: the KubeRay CRDs are 4 MB of YAML.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def crd_documents(paths: Iterable[Path]) -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in paths:
        files = [path]
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml"))
        for file in files:
            for doc in yaml.load_all(file.read_text(), Loader=_LOADER):
                if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                    yield file, doc


def version_schema(group: str, kind: str, version: str, openapi: dict[str, Any]) -> dict[str, Any]:
    root = strict(openapi)
    props = root.setdefault("properties", {})
    props["apiVersion"] = {"type": "string", "enum": [f"{group}/{version}"]}
    props["kind"] = {"type": "string", "enum": [kind]}
    props.setdefault("metadata", {"type": "object"})
    root["additionalProperties"] = False
    root["required"] = sorted({*root.get("required", []), "apiVersion", "kind"})
    root["$schema"] = "http://json-schema.org/draft-07/schema#"
    return root


def convert(out_dir: Path, sources: list[Path], renames: dict[str, str]) -> list[Path]:
    written: list[Path] = []
    for source, crd in crd_documents(sources):
        if crd.get("apiVersion") != "apiextensions.k8s.io/v1":
            raise SystemExit(f"crds: {source}: only apiextensions.k8s.io/v1 CRDs are supported")
        spec = crd["spec"]
        kind = spec["names"]["kind"]
        for version in spec["versions"]:
            if not version.get("served", True):
                continue
            openapi = (version.get("schema") or {}).get("openAPIV3Schema")
            if not openapi:
                raise SystemExit(f"crds: {source}: {kind} {version['name']} has no openAPIV3Schema")
            for group in dict.fromkeys([spec["group"], renames.get(spec["group"], spec["group"])]):
                path = out_dir / group / f"{kind.lower()}_{version['name']}.json"
                path.parent.mkdir(parents=True, exist_ok=True)
                schema = version_schema(group, kind, version["name"], openapi)
                path.write_text(json.dumps(schema, sort_keys=True))
                written.append(path)
    if not written:
        raise SystemExit(f"crds: no CustomResourceDefinition found in {', '.join(map(str, sources))}")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("sources", type=Path, nargs="+", help="CRD YAML files or directories")
    parser.add_argument("--rename-group", action="append", default=[], metavar="FROM=TO")
    args = parser.parse_args(argv)
    renames = dict(item.split("=", 1) for item in args.rename_group)
    written = convert(args.out_dir, args.sources, renames)
    kinds = sorted({f"{p.parent.name}/{p.stem}" for p in written})
    print(f"crds: {len(written)} schemas -> {args.out_dir}: {', '.join(kinds)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
