"""`ray-aks serve`: bad flags and args get usage, never a traceback (a real run: test_serving_textgen)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml
from ray_aks import cli
from typer.testing import CliRunner

from tests.workloads.serving_fixtures import cli_text


def usage_error(*args: str) -> str:
    """Run the CLI expecting a usage error (exit 2, no traceback); return its message as plain text."""
    result = CliRunner().invoke(cli.app, list(args))
    assert result.exit_code == 2, result.output
    assert "Usage:" in result.output and "Traceback" not in result.output
    return cli_text(result.output)


def test_help_lists_embed_and_serve_without_importing_ray() -> None:
    code = "import sys, ray_aks.cli; print(sorted(m for m in ('ray', 'torch') if m in sys.modules))"
    imported = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert imported.stdout.strip() == "[]"
    result = CliRunner().invoke(cli.app, ["--help"])
    assert result.exit_code == 0
    assert "embed" in result.output and "serve" in result.output


def test_bad_flags_and_args_get_usage(tmp_path: Path) -> None:
    assert "Invalid value for '--app'" in usage_error("serve", "--app", "resnet")
    assert "Invalid value for '--port'" in usage_error("serve", "--port", "70000")

    (tmp_path / "unknown.yaml").write_text(yaml.safe_dump({"resnet": {}}))
    assert "unknown apps: resnet" in usage_error("serve", "--args-file", str(tmp_path / "unknown.yaml"))

    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({"mnist": {"user_config": {"max_batch_size": 0}}}))
    message = usage_error("serve", "--app", "mnist", "--args-file", str(tmp_path / "bad.yaml"))
    assert (
        "invalid args for ray_aks.serving.mnist:app: user_config.max_batch_size: Input should be" in message
    )

    message = usage_error("serve", "--app", "mnist", "--mnist-model", "models:/mnist-cnn")
    assert "use models:/<name>@<alias> or models:/<name>/<version>" in message


def test_no_block_without_a_cluster_gets_usage() -> None:
    # In a process of its own: this session's Ray (ray_local) would count as a running cluster.
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    command = [sys.executable, "-m", "ray_aks.cli", "serve", "--app", "textgen", "--no-block"]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Usage:" in result.stderr and "Traceback" not in result.stderr
    assert "--no-block needs --address (or RAY_ADDRESS) of a running Ray cluster" in cli_text(result.stderr)
