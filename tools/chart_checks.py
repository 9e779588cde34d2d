"""The chart checks that need more than one command: strict lint, scenario renders, kubeconform, kube-linter.

Scenarios are every ct values file (charts/ray-aks/ci/*-values.yaml) plus the GPU overlay
(charts/ray-aks-gpu-values.yaml). make/chart.mk calls:

    python -m tools.chart_checks lint
    python -m tools.chart_checks render OUT_DIR --kube-version 1.33.13 --kube-version 1.35.4
    python -m tools.chart_checks validate OUT_DIR --kubeconform BIN --schema-dir .cache/schemas
    python -m tools.chart_checks kube-lint OUT_DIR --kube-linter BIN --config .kube-linter.yaml

Every check refuses to pass vacuously: no scenario, a scenario that renders no object, or a
validator that saw fewer objects than were rendered is a failure.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import yaml

from tools.ray_kinds import RAY_CLUSTER_SPEC_PATHS, RAY_JOB_SPEC_PATHS, ray_cluster_spec, ray_job_spec
from tools.render_chart import (
    CHART_DIR,
    GPU_VALUES,
    REPO_ROOT,
    RenderError,
    helm_binary,
    render_text,
    renderable_chart,
)
from tools.schemas.locations import kubeconform_locations


class CheckFailed(Exception):
    """A check found a problem; the message says what and where."""


def scenarios() -> list[Path]:
    ci_values = sorted((CHART_DIR / "ci").glob("*-values.yaml"))
    if not ci_values:
        raise CheckFailed(
            f"no ct scenarios: {CHART_DIR.relative_to(REPO_ROOT)}/ci/*-values.yaml matches nothing"
        )
    if not GPU_VALUES.is_file():
        raise CheckFailed(f"the GPU overlay {GPU_VALUES.relative_to(REPO_ROOT)} is missing")
    return [*ci_values, GPU_VALUES]


def scenario_name(values: Path) -> str:
    return values.name.removesuffix(".yaml")


def lint() -> None:
    """helm lint --strict with each scenario's values (the subchart left out, as offline renders do)."""
    helm = helm_binary()
    files = scenarios()
    failed = []
    with renderable_chart() as chart:
        for values in files:
            result = subprocess.run(
                [helm, "lint", "--strict", str(chart), "--values", str(values)],
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                output = (result.stdout + result.stderr).replace(
                    str(chart), str(CHART_DIR.relative_to(REPO_ROOT))
                )
                failed.append(f"--- helm lint --strict -f {values.relative_to(REPO_ROOT)}\n{output.strip()}")
    if failed:
        raise CheckFailed("\n".join(failed))
    print(f"lint-chart: helm lint --strict passed with {len(files)} values files")


def render(out_dir: Path, kube_versions: list[str]) -> None:
    """Render every scenario at every Kubernetes version into OUT_DIR/v<version>/<scenario>.yaml."""
    files = scenarios()
    empty, failed = [], []
    for version in kube_versions:
        target = out_dir / f"v{version}"
        target.mkdir(parents=True, exist_ok=True)
        for old in target.glob("*.yaml"):
            old.unlink()
        for values in files:
            try:
                text = render_text([values], kube_version=version)
            except RenderError as err:
                failed.append(
                    f"{values.relative_to(REPO_ROOT)} at Kubernetes {version}: {err.stderr.strip()}"
                )
                continue
            objects = [doc for doc in yaml.safe_load_all(text) if doc]
            if not objects:
                empty.append(f"{values.relative_to(REPO_ROOT)} at Kubernetes {version}")
            (target / f"{scenario_name(values)}.yaml").write_text(text)
            kinds = Counter(obj.get("kind", "<no kind>") for obj in objects)
            summary = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
            print(f"render {version} {scenario_name(values)}: {len(objects)} objects ({summary})")
    if failed:
        raise CheckFailed("helm template failed:\n  " + "\n  ".join(failed))
    if empty:
        raise CheckFailed("these scenarios render no object: " + "; ".join(empty))


def rendered(version_dir: Path) -> dict[str, int]:
    """Objects per rendered file, counted the same way render() counted them."""
    files = sorted(version_dir.glob("*.yaml"))
    if not files:
        raise CheckFailed(f"no renders in {version_dir}: run the render step first")
    return {f.name: sum(1 for doc in yaml.safe_load_all(f.read_text()) if doc) for f in files}


def validate(out_dir: Path, kubeconform: str, schema_locations: list[str]) -> None:
    """kubeconform -strict on each version's renders; unknown kinds fail (no -ignore-missing-schemas)."""
    version_dirs = sorted(p for p in out_dir.glob("v*") if p.is_dir())
    if not version_dirs:
        raise CheckFailed(f"no renders under {out_dir}")
    problems = []
    total = 0
    for version_dir in version_dirs:
        version = version_dir.name.removeprefix("v")
        counts = rendered(version_dir)
        command = [kubeconform, "-strict", "-summary", "-verbose", "-output", "json"]
        command += ["-kubernetes-version", version]
        for location in schema_locations:
            command += ["-schema-location", location]
        command += [str(version_dir / name) for name in counts]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        try:
            report = json.loads(result.stdout)
        except json.JSONDecodeError as err:
            raise CheckFailed(f"kubeconform gave no JSON report ({err}): {result.stderr.strip()}") from err
        valid: Counter[str] = Counter()
        for res in report.get("resources") or []:
            where = f"{Path(res['filename']).stem} {res.get('kind')}/{res.get('name')}"
            if res["status"] == "statusValid":
                valid[res["kind"]] += 1
            elif res["status"] in ("statusEmpty", ""):
                continue  # an empty YAML document (objects are counted against the render below)
            else:
                status = res["status"].removeprefix("status").lower()
                problems.append(f"Kubernetes {version}: {where}: {status}: {res.get('msg', '')}")
        problems += [
            f"Kubernetes {version}: {name} renders no object" for name, n in counts.items() if n == 0
        ]
        expected = sum(counts.values())
        seen = sum(valid.values())
        if result.returncode == 0 and seen != expected:
            problems.append(
                f"Kubernetes {version}: rendered {expected} objects but kubeconform validated {seen}"
            )
        total += seen
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(valid.items()))
        print(f"validate: Kubernetes {version}: {seen} objects valid in {len(counts)} scenarios ({kinds})")
    if problems:
        raise CheckFailed("kubeconform -strict found problems:\n  " + "\n  ".join(problems))
    print(f"validate: {total} objects valid (kubeconform -strict, {len(version_dirs)} Kubernetes versions)")


def ray_pod_templates(obj: dict) -> list[tuple[str, dict]]:
    """(where, template) for every pod template in a RayCluster, RayJob, RayCronJob or RayService."""
    spec = ray_cluster_spec(obj)
    if spec is None:
        return []
    where = ".".join(RAY_CLUSTER_SPEC_PATHS[obj["kind"]])
    found = []
    if "template" in (spec.get("headGroupSpec") or {}):
        found.append((f"{where}.headGroupSpec", spec["headGroupSpec"]["template"]))
    for i, group in enumerate(spec.get("workerGroupSpecs") or []):
        found.append(
            (f"{where}.workerGroupSpecs[{i}] ({group.get('groupName')})", group.get("template") or {})
        )
    job = ray_job_spec(obj)
    if job and job.get("submitterPodTemplate"):
        job_where = ".".join((*RAY_JOB_SPEC_PATHS[obj["kind"]], "submitterPodTemplate"))
        found.append((job_where, job["submitterPodTemplate"]))
    return found


def pods_for_linting(objects: list[dict]) -> list[dict]:
    """The objects, a Pod per Ray pod template and the Serve Services: kube-linter does not know Ray kinds."""
    pods = []
    for obj in objects:
        meta = obj.get("metadata") or {}
        for n, (where, template) in enumerate(ray_pod_templates(obj)):
            template_meta = template.get("metadata") or {}
            pod_meta = {"name": f"{meta.get('name')}-template-{n}", "namespace": meta.get("namespace")}
            pod_meta.update({k: v for k, v in template_meta.items() if k in ("labels", "annotations")})
            pod_meta.setdefault("annotations", {})["ray-aks.lint/template-of"] = f"{obj['kind']} {where}"
            pods.append(
                {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": template.get("spec")}
            )
    return objects + pods + serve_services(objects)


def serve_services(objects: list[dict]) -> list[dict]:
    """The Serve Service KubeRay creates from each RayService's serveService, so kube-linter checks the
    Ingress that routes to it. KubeRay sets the selector (the cluster's pods whose Serve proxy is
    ready); here it selects the head template's labels, which the linted Pods carry."""
    services = []
    for obj in objects:
        serve = (obj.get("spec") or {}).get("serveService") if obj.get("kind") == "RayService" else None
        if not serve:
            continue
        head = ((obj["spec"].get("rayClusterConfig") or {}).get("headGroupSpec") or {}).get("template") or {}
        meta = {
            k: v for k, v in (serve.get("metadata") or {}).items() if k in ("name", "labels", "annotations")
        }
        meta["namespace"] = (obj.get("metadata") or {}).get("namespace")
        spec = dict(serve.get("spec") or {}, selector=(head.get("metadata") or {}).get("labels") or {})
        services.append({"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec})
    return services


def kube_lint(out_dir: Path, kube_linter: str, config: Path) -> None:
    """kube-linter on every render, Ray pod templates included; exceptions with reasons in the config."""
    files = sorted(out_dir.glob("v*/*.yaml"))
    if not files:
        raise CheckFailed(f"no renders under {out_dir}")
    lint_dir = out_dir / "kube-lint"
    lint_dir.mkdir(exist_ok=True)
    for old in lint_dir.glob("*.yaml"):
        old.unlink()
    objects = templates = 0
    lint_files = []
    for f in files:
        docs = [doc for doc in yaml.safe_load_all(f.read_text()) if doc]
        with_pods = pods_for_linting(docs)
        objects += len(docs)
        templates += len(with_pods) - len(docs)
        target = lint_dir / f"{f.parent.name}-{f.name}"
        target.write_text(yaml.safe_dump_all(with_pods, sort_keys=False))
        lint_files.append(target)
    if objects == 0:
        raise CheckFailed(f"the renders under {out_dir} hold no object")
    command = [kube_linter, "lint", "--config", str(config)]
    result = subprocess.run(
        command + [str(f) for f in lint_files], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        hint = (
            "objects named <name>-template-<n> are Ray pod templates; fix the chart, "
            f"or add an exception with its reason to {config.name}"
        )
        raise CheckFailed(f"kube-linter found problems ({hint}):\n{result.stdout}{result.stderr}".rstrip())
    exceptions = (yaml.safe_load(config.read_text()).get("checks") or {}).get("exclude") or []
    print(
        f"kube-lint: {objects} objects, {templates} Ray pod templates and Serve Services "
        f"in {len(files)} renders: "
        "0 findings; "
        f"{len(exceptions)} checks excepted in {config.name}: {', '.join(exceptions) or 'none'}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="check", required=True)
    sub.add_parser("lint", help="helm lint --strict with every scenario")
    p = sub.add_parser("render", help="render every scenario at every Kubernetes version")
    p.add_argument("out_dir", type=Path)
    p.add_argument("--kube-version", action="append", required=True)
    p = sub.add_parser("validate", help="kubeconform -strict on the renders")
    p.add_argument("out_dir", type=Path)
    p.add_argument("--kubeconform", required=True)
    p.add_argument("--schema-dir", type=Path, required=True, help="the folder `make schemas` fills")
    p = sub.add_parser("kube-lint", help="kube-linter on the renders")
    p.add_argument("out_dir", type=Path)
    p.add_argument("--kube-linter", required=True)
    p.add_argument("--config", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        if args.check == "lint":
            lint()
        elif args.check == "render":
            render(args.out_dir, args.kube_version)
        elif args.check == "validate":
            validate(args.out_dir, args.kubeconform, kubeconform_locations(args.schema_dir))
        else:
            kube_lint(args.out_dir, args.kube_linter, args.config)
    except CheckFailed as err:
        print(f"{args.check}: FAILED: {err}", file=sys.stderr)
        return 1
    except (RenderError, FileNotFoundError) as err:
        print(f"{args.check}: FAILED: {getattr(err, 'stderr', '') or err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
