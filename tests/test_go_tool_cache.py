"""tools/go_tool_cache.sh: a real `go install` of the e2e cluster's pause program, built once and then
taken from the cache, and built again when what it is built from changes."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

SCRIPT = REPO_ROOT / "tools" / "go_tool_cache.sh"
GO_INSTALL = ["CGO_ENABLED=0", "go", "install", "-trimpath", "-buildvcs=false", "-ldflags", "-s -w", "."]


def install(out: Path, source: Path, cache: Path | str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), str(out), str(source), "--", *GO_INSTALL],
        env={**os.environ, "GO_TOOL_CACHE": str(cache)},
        capture_output=True, text=True, check=False,
    )  # fmt: skip


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A copy of tools/go/pause: the test edits it."""
    return Path(shutil.copytree(REPO_ROOT / "tools" / "go" / "pause", tmp_path / "pause"))


def test_a_second_build_of_the_same_source_comes_from_the_cache(tmp_path: Path, source: Path) -> None:
    cache = tmp_path / "cache"
    first = install(tmp_path / "first", source, cache)
    assert first.returncode == 0, first.stderr
    assert "from" not in first.stdout
    second = install(tmp_path / "second", source, cache)
    assert second.returncode == 0, second.stderr
    assert second.stdout.startswith(f"go tool cache: second from {cache}/")
    copied = tmp_path / "second" / "pause"
    assert copied.read_bytes() == (tmp_path / "first" / "pause").read_bytes()
    assert copied.stat().st_mode & 0o111


def test_an_edited_source_is_built_again(tmp_path: Path, source: Path) -> None:
    cache = tmp_path / "cache"
    assert install(tmp_path / "first", source, cache).returncode == 0
    main = source / "main.go"
    main.write_text(main.read_text() + "\n// edited\n")
    again = install(tmp_path / "again", source, cache)
    assert again.returncode == 0, again.stderr
    assert "go tool cache" not in again.stdout
    assert len([entry for entry in cache.iterdir() if not entry.name.startswith(".")]) == 2


def test_without_a_cache_folder_it_only_builds(tmp_path: Path, source: Path) -> None:
    built = install(tmp_path / "out", source, "")
    assert built.returncode == 0, built.stderr
    assert (tmp_path / "out" / "pause").is_file()
    assert "go tool cache" not in built.stdout


def test_a_relative_output_folder_or_a_missing_separator_is_refused_with_usage(tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, check=False)

    relative = run("out", "-", "--", "go", "version")
    assert relative.returncode == 2 and "absolute" in relative.stderr
    missing = run(str(tmp_path), "-", "go", "version")
    assert missing.returncode == 2 and missing.stderr.startswith("usage:")
