"""`ray-aks serve`: bad flags and args get usage; a real run deploys onto the session's Serve."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import yaml
from ray_aks import cli
from typer.testing import CliRunner

from tests.workloads.serving_fixtures import OFFLINE_ENV, build_tiny_gpt2, cli_text, serve_base_url


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

    message = usage_error("serve", "--app", "textgen", "--no-block")
    assert "--no-block needs --address (or RAY_ADDRESS) of a running Ray cluster" in message


@pytest.mark.slow
def test_serve_textgen_prints_a_url_that_answers(ray_local: None, tmp_path: Path) -> None:
    from ray import serve

    base = serve_base_url()
    model = build_tiny_gpt2(tmp_path / "tiny-gpt2")
    replica = {
        "ray_actor_options": {"num_cpus": 0.5, "runtime_env": {"env_vars": OFFLINE_ENV}},
        "torch_threads": 1,
    }
    (tmp_path / "args.yaml").write_text(yaml.safe_dump({"textgen": replica}))
    port = base.rsplit(":", 1)[1]
    result = CliRunner().invoke(
        cli.app,
        [
            "serve",
            "--app",
            "textgen",
            "--textgen-model",
            str(model),
            "--args-file",
            str(tmp_path / "args.yaml"),
            "--port",
            port,
            "--no-block",
        ],
    )
    try:
        assert result.exit_code == 0, result.output
        url = re.search(r"^textgen: (\S+)", result.output, re.MULTILINE).group(1)
        assert url == base
        response = requests.post(f"{url}/text/simple-gen", json={"input": "Once upon a time"}, timeout=60)
        assert response.status_code == 200
        assert response.json()[0]["generated_text"].startswith("Once upon a time")
    finally:
        serve.delete("textgen")
