"""Write the chart values file for the cluster `make aks` built, from `tofu output -json`.

`make aks` runs, after the apply:

    tofu -chdir=infra output -json | python -m tools.infra.aks_values - --output infra/aks-values.yaml

The module's `chart_values` output is keyed as charts/ray-aks/values.yaml (global.imageRegistry,
serviceAccount, workloadIdentity, sharedStorage.create, rayCluster.sharedStorage, mlflow,
monitoring); this writes it as YAML with a header that says where it came from. `make install` adds
the file to helm's values while it exists; `make aks-destroy` removes it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

OUTPUT_NAME = "chart_values"
HEADER = """\
# Values of the ray-aks chart for the AKS cluster that `make aks` created (infra/), written from
# `tofu output -json {output}`. `make install` passes this file to helm while it exists (before the
# GPU overlay and your HELM_FLAGS); `make aks-destroy` removes it. Regenerate it with `make aks`.
"""


class OutputsError(ValueError):
    """The `tofu output -json` document is not what the module writes; the message says why."""


def chart_values(outputs: Mapping[str, Any]) -> dict[str, Any]:
    """The chart values from a parsed `tofu output -json` document."""
    if not isinstance(outputs, Mapping):
        raise OutputsError("`tofu output -json` must be a JSON object of outputs")
    if OUTPUT_NAME not in outputs:
        found = ", ".join(sorted(outputs)) or "none"
        raise OutputsError(
            f"no output {OUTPUT_NAME!r} (outputs: {found}): was the module applied? run `make aks`"
        )
    output = outputs[OUTPUT_NAME]
    if not isinstance(output, Mapping) or "value" not in output:
        raise OutputsError(f"output {OUTPUT_NAME!r} has no 'value': not `tofu output -json`'s shape")
    if output.get("sensitive"):
        raise OutputsError(f"output {OUTPUT_NAME!r} is sensitive: it must not be written to a values file")
    values = output["value"]
    if not isinstance(values, Mapping) or not values:
        raise OutputsError(f"output {OUTPUT_NAME!r} must be a non-empty object of chart values")
    return dict(values)


def values_file_text(outputs: Mapping[str, Any]) -> str:
    """The values file's text: the header, then the chart values as YAML."""
    body = yaml.safe_dump(chart_values(outputs), sort_keys=False, default_flow_style=False)
    return HEADER.format(output=OUTPUT_NAME) + body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outputs", help="`tofu output -json` document, or - for standard input")
    parser.add_argument("--output", required=True, type=Path, help="values file to write")
    args = parser.parse_args(argv)
    try:
        text = sys.stdin.read() if args.outputs == "-" else Path(args.outputs).read_text()
        outputs = json.loads(text)
        content = values_file_text(outputs)
    except (OSError, json.JSONDecodeError, OutputsError) as err:
        print(f"aks_values: {err}", file=sys.stderr)
        return 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(content)
    print(f"aks_values: wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
