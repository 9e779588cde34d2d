"""infra/README.md's tables of inputs and outputs, generated from the module as OpenTofu reads it.

    python -m tools.infra.readme write    # make infra-docs: rewrite the tables in infra/README.md
    python -m tools.infra.readme check    # make infra-docs-check: fail when they are out of date

The tables sit between the markers below in infra/README.md; the rest of the page is hand-written.
Names, types, defaults and descriptions come from `tofu show -json` of the module's provider-free
files (tools/infra/harness.py), in the order the .tf files declare them.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from pathlib import Path
from typing import Any

from tools.infra.harness import INFRA_DIR, Evaluation, TofuError, evaluate

README = INFRA_DIR / "README.md"
BEGIN = "<!-- BEGIN GENERATED: make infra-docs writes the tables below from the .tf files -->"
END = "<!-- END GENERATED -->"


class ReadmeError(RuntimeError):
    """The README or the module cannot be read as expected; the message says what to fix."""


def declared(path: Path, kind: str) -> list[str]:
    """Names of the `kind` blocks (variable, output) in a .tf file, in file order."""
    return re.findall(rf'^{kind} "([^"]+)"', path.read_text(), flags=re.MULTILINE)


def hcl_type(t: Any) -> str:
    """A cty type as `tofu show -json` gives it, written as in a variable's `type`."""
    if isinstance(t, str):
        return t
    kind = t[0]
    if kind in ("list", "set", "map"):
        return f"{kind}({hcl_type(t[1])})"
    if kind == "tuple":
        return f"tuple([{', '.join(hcl_type(e) for e in t[1])}])"
    if kind == "object":
        optional = set(t[2]) if len(t) > 2 else set()
        attrs = ", ".join(
            f"{name} = {f'optional({hcl_type(at)})' if name in optional else hcl_type(at)}"
            for name, at in t[1].items()
        )
        return f"object({{{attrs}}})"
    return json.dumps(t)


def hcl_value(value: Any) -> str:
    """A default value written as an HCL literal."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(hcl_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {hcl_value(v)}" for k, v in value.items()) + "}"
    raise ReadmeError(f"cannot write {value!r} as HCL")


def cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def tables(result: Evaluation, infra_dir: Path = INFRA_DIR) -> str:
    """The markdown between the markers: one table of inputs, one of outputs."""
    variable_order = declared(infra_dir / "variables.tf", "variable")
    output_order = declared(infra_dir / "outputs.tf", "output")
    if set(variable_order) != set(result.variables) or set(output_order) != set(result.output_config):
        raise ReadmeError("the variable or output blocks found in the .tf files differ from what tofu read")
    lines = [
        "### Inputs",
        "",
        "Set them in `infra/terraform.tfvars` (OpenTofu reads it by itself) or with "
        '`make aks-plan AKS_FLAGS="-var-file=<file>"`. Object variables take any subset of their '
        "attributes; the others keep their defaults.",
        "",
        "| Name | Description | Type | Default |",
        "|---|---|---|---|",
    ]
    for name in variable_order:
        v = result.variables[name]
        if not v.get("description"):
            raise ReadmeError(f"variable {name!r} has no description")
        default = "required" if v.get("required") else f"`{hcl_value(v.get('default'))}`"
        lines.append(
            f"| `{name}` | {cell(v['description'])} | `{hcl_type(v.get('type', 'any'))}` | {cell(default)} |"
        )
    lines += ["", "### Outputs", "", "| Name | Description |", "|---|---|"]
    for name in output_order:
        description = result.output_config[name].get("description")
        if not description:
            raise ReadmeError(f"output {name!r} has no description")
        lines.append(f"| `{name}` | {cell(description)} |")
    return "\n".join(lines)


def render(readme_text: str, generated: str) -> str:
    """The README with the text between its markers replaced."""
    start, end = readme_text.find(BEGIN), readme_text.find(END)
    if start < 0 or end < start:
        raise ReadmeError(f"{README.relative_to(INFRA_DIR.parent)} lacks the markers {BEGIN!r} ... {END!r}")
    return readme_text[: start + len(BEGIN)] + "\n\n" + generated + "\n\n" + readme_text[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=["write", "check"])
    parser.add_argument("--tofu", help="tofu executable (default: $TOFU, else bin/tofu-*/tofu)")
    args = parser.parse_args(argv)
    where = README.relative_to(INFRA_DIR.parent)
    try:
        current = README.read_text()
        wanted = render(current, tables(evaluate(tofu=args.tofu)))
    except (OSError, ReadmeError, TofuError) as err:
        print(f"infra-docs: {err}", file=sys.stderr)
        return 1
    if args.mode == "write":
        README.write_text(wanted)
        print(f"infra-docs: wrote the tables of {where}")
        return 0
    if current != wanted:
        diff = difflib.unified_diff(
            current.splitlines(keepends=True), wanted.splitlines(keepends=True), str(where), "generated"
        )
        sys.stderr.writelines(diff)
        print(f"infra-docs-check: {where} is stale (diff above): run 'make infra-docs'", file=sys.stderr)
        return 1
    print(f"infra-docs-check: {where} is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
