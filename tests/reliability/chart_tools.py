"""Render the chart many times cheaply and check the renders with the repo's pinned kubeconform and
kube-linter (the same schemas and config as `make validate` and `make kube-lint`).

One chart copy (without the subchart, as offline renders do) serves every render; renders run two
at a time; kubeconform and kube-linter each run once over a whole batch of renders.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tools.chart_checks import pods_for_linting
from tools.make_pins import kubernetes_schema_versions
from tools.render_chart import REPO_ROOT, helm_binary, renderable_chart
from tools.schemas.locations import kubeconform_locations, kubernetes_schema_dir

BIN = REPO_ROOT / "bin"
SCHEMA_DIR = REPO_ROOT / ".cache" / "schemas"
# The newest AKS minor that `make schemas` generates kubeconform schemas for.
KUBERNETES_VERSION = kubernetes_schema_versions()[-1]
KUBE_LINTER_CONFIG = REPO_ROOT / ".kube-linter.yaml"


def tool(env_name: str, pattern: str) -> str:
    """A pinned tool: $ENV_NAME (make exports it), else the one `make tools` built into ./bin."""
    if os.environ.get(env_name):
        return os.environ[env_name]
    found = sorted(BIN.glob(pattern))
    if not found:
        raise FileNotFoundError(f"no {pattern} in {BIN}: run `make tools` (or set ${env_name})")
    return str(found[-1])


def schema_locations() -> list[str]:
    if not kubernetes_schema_dir(SCHEMA_DIR, KUBERNETES_VERSION).is_dir():
        raise FileNotFoundError(
            f"no Kubernetes {KUBERNETES_VERSION} schemas under {SCHEMA_DIR}: run `make schemas`"
        )
    return kubeconform_locations(SCHEMA_DIR)


@dataclass
class Render:
    """One `helm template` run: the objects, or helm's error."""

    values: dict[str, Any]
    ok: bool
    text: str  # the manifest, or helm's stderr
    objects: list[dict[str, Any]]


def render_many(values_list: list[Mapping[str, Any]], workdir: Path, workers: int = 2) -> list[Render]:
    """Render the chart once per values dict (each written to its own file), two at a time."""
    helm = helm_binary()
    workdir.mkdir(parents=True, exist_ok=True)
    with renderable_chart() as chart:

        def one(item: tuple[int, Mapping[str, Any]]) -> Render:
            n, values = item
            path = workdir / f"values-{n:05d}.yaml"
            path.write_text(yaml.safe_dump(dict(values), sort_keys=False))
            command = [helm, "template", "ray", str(chart), "--namespace", "ray", "--values", str(path)]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                return Render(dict(values), False, done.stderr.replace(str(chart), "charts/ray-aks"), [])
            objects = [doc for doc in yaml.safe_load_all(done.stdout) if doc]
            return Render(dict(values), True, done.stdout, objects)

        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(one, enumerate(values_list)))


def kubeconform_problems(renders: Mapping[str, list[dict[str, Any]]], workdir: Path) -> dict[str, list[str]]:
    """kubeconform -strict over every render at once: {render name: [problem, ...]} (empty: all valid).

    A render whose objects kubeconform did not all validate (an unknown kind, say) has a problem too.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, objects in renders.items():
        path = workdir / f"{name}.yaml"
        path.write_text(yaml.safe_dump_all(objects, sort_keys=False))
        files[str(path)] = name
    if not files:
        return {}
    command = [tool("KUBECONFORM", "kubeconform-v*"), "-strict", "-verbose", "-output", "json"]
    command += ["-kubernetes-version", KUBERNETES_VERSION]
    for location in schema_locations():
        command += ["-schema-location", location]
    done = subprocess.run(command + list(files), capture_output=True, text=True, check=False)
    report = json.loads(done.stdout)
    problems: dict[str, list[str]] = {name: [] for name in renders}
    valid = dict.fromkeys(renders, 0)
    for res in report.get("resources") or []:
        name = files[res["filename"]]
        if res["status"] == "statusValid":
            valid[name] += 1
        elif res["status"] not in ("statusEmpty", ""):
            problems[name].append(f"{res.get('kind')}/{res.get('name')}: {res['status']}: {res.get('msg')}")
    for name, objects in renders.items():
        if not problems[name] and valid[name] != len(objects):
            problems[name].append(f"kubeconform validated {valid[name]} of {len(objects)} objects")
    return {name: found for name, found in problems.items() if found}


def kube_linter_problems(renders: Mapping[str, list[dict[str, Any]]], workdir: Path) -> dict[str, list[str]]:
    """kube-linter (the repo's config) over every render at once, Ray pod templates included."""
    workdir.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, objects in renders.items():
        path = workdir / f"{name}.yaml"
        path.write_text(yaml.safe_dump_all(pods_for_linting(list(objects)), sort_keys=False))
        files[str(path)] = name
    if not files:
        return {}
    command = [tool("KUBE_LINTER", "kube-linter-v*"), "lint", "--config", str(KUBE_LINTER_CONFIG)]
    command += ["--format", "json"]
    done = subprocess.run(command + list(files), capture_output=True, text=True, check=False)
    report = json.loads(done.stdout)
    problems: dict[str, list[str]] = {}
    for item in report.get("Reports") or []:
        obj = item.get("Object") or {}
        path = (obj.get("Metadata") or {}).get("FilePath", "")
        k8s = (obj.get("K8sObject") or {}).get("GroupVersionKind") or {}
        name = (obj.get("K8sObject") or {}).get("Name", "?")
        message = (item.get("Diagnostic") or {}).get("Message", "")
        where = files.get(path, path)
        problems.setdefault(where, []).append(f"{k8s.get('Kind')}/{name}: {item.get('Check')}: {message}")
    if done.returncode != 0 and not problems:
        raise RuntimeError(f"kube-linter failed without a report: {done.stderr[-2000:]}")
    return problems


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def walk_objects(node: Any, path: str = "") -> Iterable[tuple[str, Any]]:
    """Every (path, node) in a nested structure, depth first."""
    yield path, node
    if isinstance(node, Mapping):
        for key, value in node.items():
            yield from walk_objects(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from walk_objects(item, f"{path}[{i}]")
