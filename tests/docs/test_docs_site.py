"""The documentation site's build (`make docs-site`): what it accepts and what fails it.

Each test builds a small project with the repository's own mkdocs.yml settings and hook, through the
real `make docs-site` recipe (MkDocs and Material from ./bin): a README, a docs/ page and files
outside docs/ linked the way GitHub reads them. `make test` builds the repository's own site in
docs-site; these tests show that a broken link there would fail it.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

HOOK = REPO_ROOT / "tools" / "docs" / "repo_links.py"

README = """# Tiny

The guide: [guide](docs/guide.md), its [second part](docs/guide.md#second-part).
The policy: [SECURITY.md](SECURITY.md). In code, not a link: `[x](docs/missing.md)`.
"""

GUIDE = """# Guide

At the end of this page you will have a guide.

Back [home](../README.md), the [policy's reporting](../SECURITY.md#reporting-a-vulnerability),
the [tool](../tools/tool.py), ![a plot](../results/plot.png).

```sh
echo "[not a link](../nowhere.md)"
```

## Second part

Done.
"""

SECURITY = """# Security

```sh
# A comment, not a heading
```

## Reporting a vulnerability

Write to us.
"""


def mkdocs_config(extra: str = "", nav: str = "  - Home: index.md\n  - Guide: guide.md\n") -> str:
    """The repository's mkdocs.yml with this project's nav, the hook by its absolute path."""
    text = (REPO_ROOT / "mkdocs.yml").read_text()
    text = text.replace("tools/docs/repo_links.py", str(HOOK))
    text = text[: text.index("\nnav:")] + f"\n{extra}\nnav:\n{nav}"
    return text


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "docs").mkdir()
    (tmp_path / "tools").mkdir()
    (tmp_path / "results").mkdir()
    (tmp_path / "README.md").write_text(README)
    (tmp_path / "docs" / "guide.md").write_text(GUIDE)
    (tmp_path / "SECURITY.md").write_text(SECURITY)
    (tmp_path / "tools" / "tool.py").write_text("print('tool')\n")
    (tmp_path / "results" / "plot.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (tmp_path / "mkdocs.yml").write_text(mkdocs_config())
    return tmp_path


def build(project: Path) -> subprocess.CompletedProcess:
    """`make docs-site` on the project's mkdocs.yml (the recipe `make test` runs)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS"))}
    return subprocess.run(
        ["make", "--no-print-directory", "docs-site", f"DOCS_CONFIG={project / 'mkdocs.yml'}"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_a_site_with_good_links_builds_and_its_links_work(project: Path) -> None:
    result = build(project)
    assert result.returncode == 0, result.stdout + result.stderr
    site = project / ".cache" / "site"
    home = (site / "index.html").read_text()
    # README's links into docs/ point at the built page; a link in code is left alone.
    assert 'href="guide/"' in home and 'href="guide/#second-part"' in home
    assert "[x](docs/missing.md)" in home
    guide = (site / "guide" / "index.html").read_text()
    assert 'href="../"' in guide  # ../README.md is the home page
    # Links that leave docs/ point at copies of the repository's files, which the site carries.
    assert 'href="../_repo/SECURITY.md#reporting-a-vulnerability"' in guide
    assert 'href="../_repo/tools/tool.py"' in guide
    assert 'src="../_repo/results/plot.png"' in guide
    for copied in ("SECURITY.md", "tools/tool.py", "results/plot.png"):
        assert (site / "_repo" / copied).read_bytes() == (project / copied).read_bytes()


def test_with_repo_url_links_outside_docs_open_on_the_repository_host(project: Path) -> None:
    (project / "mkdocs.yml").write_text(
        mkdocs_config("repo_url: https://example.com/team/tiny\nextra:\n  repo_branch: trunk\n")
    )
    result = build(project)
    assert result.returncode == 0, result.stdout + result.stderr
    guide = (project / ".cache" / "site" / "guide" / "index.html").read_text()
    assert 'href="https://example.com/team/tiny/blob/trunk/SECURITY.md#reporting-a-vulnerability"' in guide
    assert 'src="../_repo/results/plot.png"' in guide  # an image is shown from the site


@pytest.mark.parametrize(
    ("path", "old", "new", "message"),
    [
        (
            "docs/guide.md",
            "(../tools/tool.py)",
            "(../tools/gone.py)",
            "'tools/gone.py', which does not exist",
        ),
        (
            "docs/guide.md",
            "(../SECURITY.md#reporting-a-vulnerability)",
            "(../SECURITY.md#a-comment-not-a-heading)",
            "has no heading or anchor '#a-comment-not-a-heading'",
        ),
        ("docs/guide.md", "(../tools/tool.py)", "(../../outside.md)", "leaves the repository"),
        ("docs/guide.md", "(../tools/tool.py)", "(../tools)", "the folder 'tools', which has no README.md"),
        ("README.md", "(docs/guide.md)", "(docs/gide.md)", "'gide.md', but the target is not found"),
        (
            "README.md",
            "(docs/guide.md#second-part)",
            "(docs/guide.md#third-part)",
            "does not contain an anchor '#third-part'",
        ),
        (
            "docs/guide.md",
            "(../README.md)",
            "(../README.md#nowhere)",
            "does not contain an anchor '#nowhere'",
        ),
    ],
)
def test_a_broken_link_fails_the_build_naming_it(
    project: Path, path: str, old: str, new: str, message: str
) -> None:
    file = project / path
    text = file.read_text()
    assert old in text
    file.write_text(text.replace(old, new))
    result = build(project)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr
    assert "Aborted with 1 warnings in strict mode" in result.stdout + result.stderr


def test_a_page_missing_from_the_nav_fails_the_build(project: Path) -> None:
    (project / "docs" / "orphan.md").write_text("# Orphan\n\nNo page links here.\n")
    result = build(project)
    assert result.returncode != 0
    assert re.search(
        r'not included in the "nav" configuration:\s+- orphan\.md', result.stdout + result.stderr
    )


def test_a_nav_entry_without_its_page_fails_the_build(project: Path) -> None:
    (project / "mkdocs.yml").write_text(
        mkdocs_config(nav="  - Home: index.md\n  - Guide: guide.md\n  - Gone: gone.md\n")
    )
    result = build(project)
    assert result.returncode != 0
    assert (
        "'gone.md' is included in the 'nav' configuration, which is not found"
        in result.stdout + result.stderr
    )
