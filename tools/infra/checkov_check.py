"""checkov on infra/ with every intentional failure listed, once, with its reason.

    python -m tools.infra.checkov_check --checkov BIN --skips infra/checkov-skips.yaml infra

Runs checkov once (framework terraform, its Azure policies, nothing downloaded) and compares its
failed checks with the skips file: a failed check that the file does not list fails the run, and so
does an entry that no longer fails (a fixed check must not stay skipped). The skips file:

    skips:
      - check: CKV_AZURE_115
        resources: [azurerm_kubernetes_cluster.this]
        reason: why this check fails on purpose

Exit status 0 when checkov's failures are exactly the listed ones; 1 otherwise (the message names
each check and resource); 2 for a malformed skips file or a checkov that gave no report.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


class SkipsError(ValueError):
    """The skips file is malformed; the message names the entry."""


@dataclass(frozen=True)
class Skip:
    check: str
    resources: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class Failure:
    check: str
    resource: str
    name: str
    where: str


def load_skips(path: Path) -> list[Skip]:
    """The skips file's entries; every entry has a check id, resources and a reason, each id once."""
    data = yaml.safe_load(path.read_text()) or {}
    entries = data.get("skips") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise SkipsError(f"{path}: expected a top-level `skips:` list")
    skips = []
    for index, entry in enumerate(entries):
        where = f"{path}: skips[{index}]"
        if not isinstance(entry, dict) or set(entry) != {"check", "resources", "reason"}:
            raise SkipsError(f"{where}: needs exactly the keys check, resources and reason")
        check, resources, reason = entry["check"], entry["resources"], entry["reason"]
        if not isinstance(check, str) or not check.startswith("CKV"):
            raise SkipsError(f"{where}: check must be a checkov id such as CKV_AZURE_115, not {check!r}")
        if not isinstance(resources, list) or not resources or not all(isinstance(r, str) for r in resources):
            raise SkipsError(f"{where} ({check}): resources must be a non-empty list of resource addresses")
        if not isinstance(reason, str) or len(reason.split()) < 5:
            raise SkipsError(f"{where} ({check}): reason must say why the check fails on purpose")
        skips.append(Skip(check, tuple(resources), " ".join(reason.split())))
    repeated = sorted(check for check, count in Counter(s.check for s in skips).items() if count > 1)
    if repeated:
        raise SkipsError(f"{path}: listed more than once: {', '.join(repeated)} (one entry per check)")
    return skips


def run_checkov(checkov: str, directory: Path) -> dict[str, Any]:
    """checkov's JSON report for `directory` (its exit status says only whether something failed)."""
    command = [
        checkov,
        "--directory",
        str(directory),
        "--framework",
        "terraform",
        "--output",
        "json",
        "--compact",
        "--skip-download",
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError as err:
        raise SkipsError(f"checkov gave no JSON report ({err}):\n{result.stderr.strip()}") from err
    if isinstance(report, list):  # one report per framework; only terraform was asked for
        report = next((r for r in report if r.get("check_type") == "terraform"), {})
    if not isinstance(report, dict) or "results" not in report:
        raise SkipsError(f"checkov found no Terraform in {directory}:\n{result.stdout.strip()[:500]}")
    return report


def failures(report: dict[str, Any]) -> list[Failure]:
    return [
        Failure(
            check=c["check_id"],
            resource=c["resource"],
            name=c.get("check_name", ""),
            where=f"{c.get('file_path', '?')}:{'-'.join(str(n) for n in c.get('file_line_range', []))}",
        )
        for c in report["results"].get("failed_checks", [])
    ]


def compare(found: list[Failure], skips: list[Skip]) -> tuple[list[Failure], list[tuple[str, str]]]:
    """(failures no skip lists, (check, resource) listed but not failing)."""
    listed = {(s.check, r) for s in skips for r in s.resources}
    failing = {(f.check, f.resource) for f in found}
    unexpected = [f for f in found if (f.check, f.resource) not in listed]
    stale = sorted(listed - failing)
    return unexpected, stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path, help="the Terraform/OpenTofu module (infra)")
    parser.add_argument("--checkov", required=True, help="the checkov executable")
    parser.add_argument("--skips", required=True, type=Path, help="the skips file (infra/checkov-skips.yaml)")
    args = parser.parse_args(argv)
    try:
        skips = load_skips(args.skips)
        report = run_checkov(args.checkov, args.directory)
    except (OSError, SkipsError) as err:
        print(f"checkov: {err}", file=sys.stderr)
        return 2
    if report["results"].get("parsing_errors"):
        print(f"checkov: could not parse {report['results']['parsing_errors']}", file=sys.stderr)
        return 1
    found = failures(report)
    unexpected, stale = compare(found, skips)
    summary = report.get("summary", {})
    if unexpected:
        print("checkov: failed checks that infra/checkov-skips.yaml does not list:", file=sys.stderr)
        for f in unexpected:
            print(f"  {f.check} {f.resource} ({f.where}): {f.name}", file=sys.stderr)
    if stale:
        print("checkov: listed in the skips file but passing now (remove them):", file=sys.stderr)
        for check, resource in stale:
            print(f"  {check} {resource}", file=sys.stderr)
    if unexpected or stale:
        return 1
    print(
        f"checkov {summary.get('checkov_version', '?')}: {summary.get('passed', 0)} passed, 0 failed, "
        f"{len(found)} failing on purpose ({len(skips)} checks, each with its reason in {args.skips}), "
        f"{summary.get('resource_count', '?')} resources"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
