"""Where kubeconform finds each object's schema under the folder `make schemas` fills (.cache/schemas):
the Kubernetes core kinds per version (kubernetes/v<version>-standalone-strict/, written by
tools/schemas/k8s_openapi.py), then the CRD kinds (crds/<group>/, by tools/schemas/crds.py). The one
copy `make validate` (tools/chart_checks.py) and the reliability tests read."""

from __future__ import annotations

from pathlib import Path

KUBERNETES = "kubernetes"
CRDS = "crds"


def kubernetes_schema_dir(schema_dir: Path, version: str) -> Path:
    """The strict standalone schemas of the core kinds at Kubernetes `version` (e.g. 1.35.4)."""
    return schema_dir / KUBERNETES / f"v{version}-standalone-strict"


def kubeconform_locations(schema_dir: Path) -> list[str]:
    """kubeconform's -schema-location templates, in the order it tries them: core kinds, then CRDs."""
    return [
        f"{schema_dir / KUBERNETES}/{{{{.NormalizedKubernetesVersion}}}}-standalone{{{{.StrictSuffix}}}}/"
        "{{.ResourceKind}}{{.KindSuffix}}.json",
        f"{schema_dir / CRDS}/{{{{.Group}}}}/{{{{.ResourceKind}}}}_{{{{.ResourceAPIVersion}}}}.json",
    ]
