"""The pins of make/tools.mk, read by Python: the Makefile is the one place a version is written, and
the Python checks that need one (the Kubernetes schema version, ...) read it from there."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

TOOLS_MK = Path(__file__).resolve().parent.parent / "make" / "tools.mk"


@cache
def make_pin(name: str) -> str:
    """The value of `NAME := value` (or `?=`) in make/tools.mk; KeyError names a missing pin."""
    pattern = re.compile(rf"^{re.escape(name)}\s*[:?]?=\s*(.*?)\s*$", re.MULTILINE)
    found = pattern.search(TOOLS_MK.read_text())
    if found is None:
        raise KeyError(f"{name} is not set in {TOOLS_MK}")
    return found.group(1)


def kubernetes_schema_versions() -> list[str]:
    """The Kubernetes versions `make schemas` generates kubeconform schemas for, oldest first."""
    return make_pin("KUBERNETES_VERSIONS").split()
