"""Every `fail` message of the chart's templates has a helm-unittest `failedTemplate` test.

The messages are read from the templates (`fail "..."` and `fail (printf "..." ...)`, with each
printf verb matching any text) and matched against the `failedTemplate.errorMessage` of every
suite in charts/ray-aks/tests.
"""

from __future__ import annotations

import re

import yaml

from tests.support.trees import mappings
from tools.render_chart import CHART_DIR

FAIL_CALL = re.compile(r'\bfail\s+(?:\(\s*printf\s+)?"((?:[^"\\]|\\.)*)"')
PRINTF_VERB = re.compile(r"%[-+# 0-9.]*[sdvqf]")


def fail_patterns() -> dict[str, re.Pattern[str]]:
    """{message format: regex} for every fail call in the templates."""
    patterns = {}
    for path in sorted((CHART_DIR / "templates").rglob("*")):
        if path.suffix not in (".tpl", ".yaml", ".txt"):
            continue
        for fmt in FAIL_CALL.findall(path.read_text()):
            text = fmt.replace('\\"', '"')
            parts = PRINTF_VERB.split(text)
            regex = ".+?".join(re.escape(p) for p in parts)
            patterns[f"{path.name}: {text}"] = re.compile(regex, re.DOTALL)
    return patterns


def failed_template_messages() -> list[str]:
    """The `failedTemplate.errorMessage` of every assertion in the chart's unit test suites."""
    messages: list[str] = []
    for suite in sorted((CHART_DIR / "tests").glob("*_test.yaml")):
        for node in mappings(yaml.safe_load(suite.read_text())):
            failed = node.get("failedTemplate")
            if isinstance(failed, dict) and "errorMessage" in failed:
                messages.append(str(failed["errorMessage"]))
    return messages


def test_the_scan_finds_the_fail_calls() -> None:
    assert len(fail_patterns()) >= 20


def test_every_fail_message_has_a_failed_template_test() -> None:
    messages = failed_template_messages()
    untested = [
        name for name, regex in fail_patterns().items() if not any(regex.fullmatch(m) for m in messages)
    ]
    assert untested == []


def test_a_printf_message_matches_its_rendered_text() -> None:
    regex = re.compile(".+?".join(re.escape(p) for p in PRINTF_VERB.split("%s.minReplicas (%d) must be")))
    assert regex.fullmatch("rayCluster.workerGroups.cpu.minReplicas (5) must be")
    assert not regex.fullmatch("rayCluster.workerGroups.cpu.maxReplicas (5) must be")
