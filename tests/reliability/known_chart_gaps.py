"""Values the chart's schema accepts today that render objects Kubernetes (kubeconform) or
kube-linter refuses: found by test_values_fuzz, to be fixed in charts/ray-aks (values.schema.json,
or quoting in the templates). Until then the fuzz test reports these and fails on anything else.

Only render-validation findings can be listed here: a template crash, a refusal that does not
name the key, or a silently ignored key always fails. Remove an entry once the chart refuses
those values with a message naming the key (the fuzz test then counts them as refused).
"""

from __future__ import annotations

import re

# (values path pattern, why it renders invalid objects, the fix)
KNOWN_CHART_GAPS: list[tuple[str, str, str]] = [
    (
        r"(fullnameOverride|nameOverride)",
        "object names render unquoted: a YAML 1.1 word such as 'yes' or 'on' becomes a boolean",
        "quote the names in the templates (the schema already refuses anything but a DNS label)",
    ),
    (
        r".*\.resources\.(limits|requests)\.(memory|cpu)",
        "a quantity as a huge number (1e+308 renders as 100e306) passes the schema's Kubernetes quantity"
        " type; kube-linter reads it as unset",
        "bound numeric quantities in the schema source (a maximum that fits Kubernetes' int64 quantities)",
    ),
]


def known_gap(path: str) -> str | None:
    """The reason, when the values path is a listed gap."""
    for pattern, reason, _fix in KNOWN_CHART_GAPS:
        if re.fullmatch(pattern, path):
            return reason
    return None
