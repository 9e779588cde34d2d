"""The names of the chart's objects in the e2e scenarios, read from the chart's render, never rebuilt
from the release name with the chart's naming.

A `Release` is a release as a scenario installs it: its name, its namespace and the values the
scenario sets on top of tests/e2e/values-e2e.yaml. It renders as `helm install` would (`helm
template` with the e2e values, the registry's image values, then the scenario's values, in that
order and with the same flags: kube.image_args, scenario.set_args), and its methods return the name
of the one object of a kind (and label) there: the RayCluster, the RayJob of a `rayJobs` key, the
RayService, MLflow's Service and claim, the kept token Secret. The registry only changes image
fields, so a placeholder host renders the names the real one does.

A scenario takes each name it needs through a `Lookup` (`SERVE.lookup("rayservice")`), made at import
and called when a fixture or test runs: a release renders once, on first use, never at import.
tests/e2e/test_rendered_names.py calls every Lookup without a cluster, so a name that no longer
resolves to exactly one object fails `make test-python`, not a 30-minute e2e run.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tests.e2e import kube, scenario
from tools.render_chart import render

# Image fields only: the names do not depend on the registry a scenario pushes to.
PLACEHOLDER_REGISTRY = "registry.e2e.invalid"
COMPONENT = "app.kubernetes.io/component"
JOB_KEY = "ray-aks/job"  # the chart's label of a RayJob: its key under `rayJobs`


class Release:
    """A release of the chart as a scenario installs it; each name method returns an object's name."""

    # The methods below that return a name.
    NAMES = (
        "raycluster",
        "rayjob",
        "rayservice",
        "serve_service",
        "mlflow_service",
        "mlflow_claim",
        "token_secret",
    )

    def __init__(self, name: str, namespace: str, values: Mapping[str, object] | None = None) -> None:
        self.name, self.namespace = name, namespace
        # In install order (a later key wins, as with helm's flags), as JSON: the render's cache key.
        self._values = json.dumps(list((values or {}).items()))

    def __repr__(self) -> str:
        return (
            f"release {self.name!r} in namespace {self.namespace!r} "
            f"(values-e2e.yaml, the image values, then {self._values})"
        )

    def lookup(self, method: str, *args: str) -> Lookup:
        """The name `method(*args)` returns, resolved when called; listed in LOOKUPS for the unit test."""
        if method not in self.NAMES:
            raise ValueError(f"{method!r} is none of Release's names {self.NAMES}")
        found = Lookup(self, method, args)
        LOOKUPS.append(found)
        return found

    def objects(self) -> tuple[dict[str, Any], ...]:
        return _render(self.name, self.namespace, self._values)

    def find(self, kind: str, labels: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The one object of `kind` carrying `labels` (a copy: the render is cached); an error
        naming what was looked for if the render has none or several."""
        labels = dict(labels or {})
        found = [
            o
            for o in self.objects()
            if o["kind"] == kind and labels.items() <= (o["metadata"].get("labels") or {}).items()
        ]
        if len(found) != 1:
            wanted = f"{kind} labelled {labels}" if labels else kind
            names = [o["metadata"]["name"] for o in found]
            rendered = sorted({f"{o['kind']}/{o['metadata']['name']}" for o in self.objects()})
            raise LookupError(
                f"expected one {wanted} in the render of {self!r}, found {len(found)} {names}; "
                f"it renders {rendered}"
            )
        return copy.deepcopy(found[0])

    def _name(self, kind: str, labels: Mapping[str, str] | None = None) -> str:
        return self.find(kind, labels)["metadata"]["name"]

    def raycluster(self) -> str:
        """The standalone RayCluster (rayCluster.enabled)."""
        return self._name("RayCluster")

    def rayjob(self, key: str) -> str:
        """The RayJob of `rayJobs.<key>`."""
        return self._name("RayJob", {JOB_KEY: key})

    def rayservice(self) -> str:
        return self._name("RayService")

    def serve_service(self) -> str:
        """The RayService's Serve Service: KubeRay makes it, named after the rendered RayService."""
        return f"{self.rayservice()}-serve-svc"

    def mlflow_service(self) -> str:
        return self._name("Service", {COMPONENT: "mlflow"})

    def mlflow_claim(self) -> str:
        return self._name("PersistentVolumeClaim", {COMPONENT: "mlflow"})

    def token_secret(self) -> str:
        """The Secret that keeps the Ray token (rayCluster.auth.createSecret)."""
        return self._name("Secret", {COMPONENT: "ray-auth"})


@dataclass(frozen=True, eq=False)
class Lookup:
    """One name a scenario uses: `release.<method>(*args)`, rendered when first called."""

    release: Release
    method: str
    args: tuple[str, ...]

    def __call__(self) -> str:
        return getattr(self.release, self.method)(*self.args)

    def __str__(self) -> str:
        args = ", ".join(map(repr, self.args))
        return f"{self.release.namespace}/{self.release.name}.{self.method}({args})"


# Every scenario's lookups, made at import: test_rendered_names.py calls each.
LOOKUPS: list[Lookup] = []


@functools.cache
def _render(name: str, namespace: str, values: str) -> tuple[dict[str, Any], ...]:
    """The objects `helm install` of the release creates (hooks included), rendered once."""
    flags = [*kube.image_args(PLACEHOLDER_REGISTRY), *scenario.set_args(dict(json.loads(values)))]
    return tuple(render([kube.VALUES], extra_args=flags, release=name, namespace=namespace))
