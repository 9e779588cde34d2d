"""Values fuzzing: hundreds of mutated values files (wrong types, out-of-range and huge numbers,
unknown and missing keys, empty strings, bad enum values, odd GPU overlays) rendered by real helm.

Each one either renders objects that pass kubeconform -strict and kube-linter (the repo's schemas
and config), or helm refuses it with a schema error or a `fail` message that names the key;
never a template crash (nil pointer, panic, a function called with the wrong type), and never an
unknown key accepted without a trace in the render.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from tests.reliability import sizes
from tests.reliability.chart_tools import Render, kube_linter_problems, kubeconform_problems, render_many
from tests.reliability.known_chart_gaps import known_gap
from tests.reliability.values_mutator import UNKNOWN_PREFIX, Mutation, ValuesMutator, dotted, pointer

# What a clear refusal looks like: helm's schema check, or a `fail` from the chart's validation.
SCHEMA_ERROR = "values don't meet the specifications of the schema"
FAIL_ERROR = re.compile(r"execution error at \([^)]*\): ")
# Template crashes: Go template runtime errors rather than a message written for the user.
CRASHES = re.compile(
    r"nil pointer|panic|runtime error|invalid memory address|error calling \w+|wrong type for value"
    r"|can't evaluate field|cannot index|index out of range|incompatible types"
)


def names_the_key(message: str, mutation: Mutation) -> bool:
    """The message names the mutated key: its full path, or its parent's path and its own name
    (a required key is reported missing at its parent; a range check may name a sibling too)."""
    path = mutation.path
    if dotted(path) in message or pointer(path) in message:
        return True
    keys = [p for p in path if isinstance(p, str)]
    parent = path[: len(path) - 1]
    while parent and isinstance(parent[-1], int):
        parent = parent[:-1]
    parent_named = not parent or dotted(parent) in message or pointer(parent) in message
    if parent_named and keys and keys[-1] in message:
        return True
    if keys and f"'{keys[-1]}'" in message:  # e.g. a key name refused by a propertyNames pattern
        return True
    # A check across keys (min <= max, GPU mode needs a GPU group) names the related keys of the
    # same group: accept the group's path (at least two levels deep).
    return any(dotted(path[:n]) in message for n in range(len(path) - 1, 1, -1))


def refusal_problem(render: Render, mutation: Mutation) -> str | None:
    message = render.text
    if CRASHES.search(message):
        return f"template crash: {message.strip()[:400]}"
    if SCHEMA_ERROR not in message and not FAIL_ERROR.search(message):
        return f"refused without a schema or fail message: {message.strip()[:400]}"
    if not names_the_key(message, mutation):
        return f"refused without naming {dotted(mutation.path)}: {message.strip()[:400]}"
    return None


def test_mutated_values_render_valid_objects_or_fail_naming_the_key(tmp_path: Path) -> None:
    mutations = ValuesMutator().mutations(sizes.VALUES_MUTATIONS)
    renders = render_many([m.values for m in mutations], tmp_path / "values")

    problems: dict[str, list[str]] = {}
    outcomes: Counter[str] = Counter()
    rendered = {}
    for n, (mutation, render) in enumerate(zip(mutations, renders, strict=True)):
        name = f"m{n:05d}"
        if not render.ok:
            outcomes["refused"] += 1
            if problem := refusal_problem(render, mutation):
                problems.setdefault(name, []).append(problem)
            continue
        outcomes["rendered"] += 1
        rendered[name] = render.objects
        key = mutation.path[-1] if mutation.path else ""
        unknown = mutation.kind == "unknown_key" and str(key).startswith(UNKNOWN_PREFIX)
        if unknown and str(key) not in render.text:
            problems.setdefault(name, []).append(f"unknown key {dotted(mutation.path)} silently ignored")
    invalid: dict[str, list[str]] = {}
    for name, found in kubeconform_problems(rendered, tmp_path / "kubeconform").items():
        invalid.setdefault(name, []).extend(f"kubeconform: {p}" for p in found)
    for name, found in kube_linter_problems(rendered, tmp_path / "kube-linter").items():
        invalid.setdefault(name, []).extend(f"kube-linter: {p}" for p in found)
    gaps: Counter[str] = Counter()
    for name, found in invalid.items():
        path = dotted(mutations[int(name[1:])].path)
        if reason := known_gap(path):
            gaps[reason] += 1
        else:
            problems.setdefault(name, []).extend(found)

    by_kind = Counter(m.kind for m in mutations)
    refused_by_kind = Counter(m.kind for m, r in zip(mutations, renders, strict=True) if not r.ok)
    print(
        f"values fuzz: {len(mutations)} mutations, {outcomes['rendered']} rendered, "
        f"{outcomes['refused']} refused; per kind (refused/total): "
        + ", ".join(f"{k} {refused_by_kind[k]}/{n}" for k, n in sorted(by_kind.items()))
        + f"; {sum(gaps.values())} rendered objects Kubernetes refuses (known chart gaps, "
        "tests/reliability/known_chart_gaps.py); " + f"{len(problems)} other problems"
    )
    for reason, count in gaps.most_common():
        print(f"  known gap x{count}: {reason}")
    report = [
        f"{mutations[int(name[1:])].describe()}\n    " + "\n    ".join(found)
        for name, found in sorted(problems.items())
    ]
    assert not problems, f"{len(problems)} of {len(mutations)} mutations misbehave:\n" + "\n".join(report)
    assert outcomes["rendered"] and outcomes["refused"], "the mutations must exercise both outcomes"
