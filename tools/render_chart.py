"""Render the ray-aks chart with real helm, offline when its subchart has not been fetched.

`helm template` refuses a chart whose dependency is missing from `charts/` (fetching it needs the
KubeRay chart repo, see `make deps`). When it is missing, this renders a temporary copy of the chart
with `dependencies:` removed from Chart.yaml, so the chart's own templates render exactly as they
would with the dependency; only the upstream operator's objects are absent.

From Python:

    from tools.render_chart import render, render_text, RenderError
    objects = render(values_files=["charts/ray-aks-gpu-values.yaml"], set_values={"global.gpu": True})
    text = render_text(set_values={"kuberay-operator.enabled": False})

As a script (prints the manifest; exit status 1 with helm's message on failure):

    python tools/render_chart.py -f charts/ray-aks-gpu-values.yaml --set head.resources.limits.cpu=2

helm is `helm=` if given, else $HELM (make exports the pinned one), else ./bin/helm.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

try:
    from tools.command_error import CommandError
except ModuleNotFoundError:  # run as a script (python tools/render_chart.py): tools/ is on sys.path
    from command_error import CommandError

REPO_ROOT = Path(__file__).resolve().parent.parent
CHART_DIR = REPO_ROOT / "charts" / "ray-aks"
GPU_VALUES = REPO_ROOT / "charts" / "ray-aks-gpu-values.yaml"
DEFAULT_RELEASE = "ray"
DEFAULT_NAMESPACE = "ray"


class RenderError(CommandError):
    """helm refused to render; `stderr` holds helm's own message (e.g. a schema error or a `fail`)."""

    def __init__(self, command: list[str], returncode: int, stderr: str) -> None:
        super().__init__("helm", command, returncode, stderr)
        self.stderr = stderr


def helm_binary(helm: str | os.PathLike[str] | None = None) -> str:
    """The helm to run: the argument, else $HELM, else ./bin/helm (built by `make tools`)."""
    chosen = str(helm) if helm else os.environ.get("HELM") or str(REPO_ROOT / "bin" / "helm")
    if shutil.which(chosen) is None:
        raise FileNotFoundError(f"helm not found at {chosen!r}: run `make tools` or set $HELM")
    return chosen


def missing_dependencies(chart: Path) -> list[str]:
    """Names of Chart.yaml dependencies that have no directory or archive under charts/."""
    meta = yaml.safe_load((chart / "Chart.yaml").read_text()) or {}
    subcharts = chart / "charts"
    missing = []
    for dep in meta.get("dependencies") or []:
        name = dep["name"]
        if not (subcharts / name).is_dir() and not any(subcharts.glob(f"{name}-*.tgz")):
            missing.append(name)
    return missing


@contextmanager
def renderable_chart(chart: Path = CHART_DIR) -> Iterator[Path]:
    """The chart itself if its dependencies are present, else a temporary copy without them."""
    chart = Path(chart).resolve()
    if not missing_dependencies(chart):
        yield chart
        return
    with tempfile.TemporaryDirectory(prefix="ray-aks-render-") as tmp:
        copy = Path(tmp) / chart.name
        top_level = str(chart)
        shutil.copytree(
            chart,
            copy,
            ignore=lambda d, names: {"charts", "Chart.lock"} & set(names) if d == top_level else set(),
        )
        meta = yaml.safe_load((copy / "Chart.yaml").read_text())
        meta.pop("dependencies", None)
        (copy / "Chart.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
        yield copy


def _set_args(set_values: Mapping[str, Any] | None) -> list[str]:
    """--set-json for each key: the value keeps its type (bool, int, list, dict, string)."""
    args: list[str] = []
    for key, value in (set_values or {}).items():
        args += ["--set-json", f"{key}={json.dumps(value)}"]
    return args


def render_text(
    values_files: Iterable[str | os.PathLike[str]] = (),
    set_values: Mapping[str, Any] | None = None,
    *,
    helm: str | os.PathLike[str] | None = None,
    chart: str | os.PathLike[str] = CHART_DIR,
    release: str = DEFAULT_RELEASE,
    namespace: str = DEFAULT_NAMESPACE,
    kube_version: str | None = None,
    api_versions: Iterable[str] = (),
    show_only: Iterable[str] = (),
    extra_args: Iterable[str] = (),
) -> str:
    """The manifest `helm template` prints. Raises RenderError (with helm's stderr) on failure.

    values_files: paths relative to the repository root or absolute, applied in order.
    set_values: {"dotted.key": value}; values keep their Python type (passed as --set-json).
    kube_version / api_versions: the capabilities helm renders against (e.g. "1.33.0").
    show_only: template paths relative to the chart, e.g. "templates/raycluster.yaml".
    """
    binary = helm_binary(helm)
    files = [str((REPO_ROOT / f).resolve()) for f in values_files]
    for f in files:
        if not Path(f).is_file():
            raise FileNotFoundError(f"values file not found: {f}")
    with renderable_chart(Path(chart)) as path:
        command = [binary, "template", release, str(path), "--namespace", namespace]
        for f in files:
            command += ["--values", f]
        command += _set_args(set_values)
        if kube_version:
            command += ["--kube-version", kube_version]
        for api in api_versions:
            command += ["--api-versions", api]
        for template in show_only:
            command += ["--show-only", template]
        command += list(extra_args)
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RenderError(command, result.returncode, result.stderr)
    return result.stdout


def render(
    values_files: Iterable[str | os.PathLike[str]] = (),
    set_values: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> list[dict[str, Any]]:
    """The rendered objects as dicts, in helm's order; empty documents are dropped.

    Takes the same arguments as render_text.
    """
    text = render_text(values_files, set_values, **kwargs)
    return [doc for doc in yaml.safe_load_all(text) if doc]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-f", "--values", action="append", default=[], help="values file (repeatable)")
    parser.add_argument("--set", action="append", default=[], help="KEY=VALUE, passed to helm --set")
    parser.add_argument("--chart", default=str(CHART_DIR), help="chart directory (default: %(default)s)")
    parser.add_argument("--release", default=DEFAULT_RELEASE)
    parser.add_argument("--namespace", default=DEFAULT_NAMESPACE)
    parser.add_argument("--kube-version", help="Kubernetes version helm renders for, e.g. 1.33.0")
    parser.add_argument("--api-versions", action="append", default=[], help="extra API version (repeatable)")
    parser.add_argument("--helm", help="helm binary (default: $HELM, else ./bin/helm)")
    options = vars(parser.parse_args(argv))
    values_files = options.pop("values")
    # helm parses --set itself (strings, as on its own command line), not as set_values' --set-json.
    extra = [word for item in options.pop("set") for word in ("--set", item)]
    try:
        # The other options are render_text's keywords of the same names.
        text = render_text(values_files, **options, extra_args=extra)
    except (RenderError, FileNotFoundError) as err:
        print(f"render_chart: {getattr(err, 'stderr', None) or err}", file=sys.stderr)
        return 1
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
