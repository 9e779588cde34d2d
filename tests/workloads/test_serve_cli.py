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

from tests.workloads.serving_fixtures import OFFLINE_ENV, build_tiny_gpt2, serve_base_url


def test_help_lists_embed_and_serve_without_importing_ray() -> None:
    code = "import sys, ray_aks.cli; print(sorted(m for m in ('ray', 'torch') if m in sys.modules))"
    assert (
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.strip()
        == "[]"
    )
    result = CliRunner().invoke(cli.app, ["--help"])
    assert result.exit_code == 0
    assert "embed" in result.output and "serve" in result.output


def test_bad_flags_and_args_get_usage(tmp_path: Path) -> None:
    runner = CliRunner()
    unknown_app = runner.invoke(cli.app, ["serve", "--app", "resnet"])
    assert unknown_app.exit_code == 2 and "Invalid value for '--app'" in unknown_app.output

    bad_port = runner.invoke(cli.app, ["serve", "--port", "70000"])
    assert bad_port.exit_code == 2 and "Invalid value for '--port'" in bad_port.output

    (tmp_path / "unknown.yaml").write_text(yaml.safe_dump({"resnet": {}}))
    unknown = runner.invoke(cli.app, ["serve", "--args-file", str(tmp_path / "unknown.yaml")])
    assert unknown.exit_code == 2 and "unknown apps: resnet" in unknown.output

    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({"mnist": {"user_config": {"max_batch_size": 0}}}))
    bad = runner.invoke(cli.app, ["serve", "--app", "mnist", "--args-file", str(tmp_path / "bad.yaml")])
    assert bad.exit_code == 2
    assert (
        "invalid args for ray_aks.serving.mnist:app: user_config.max_batch_size: Input should be"
        in bad.output
    )

    bad_uri = runner.invoke(cli.app, ["serve", "--app", "mnist", "--mnist-model", "models:/mnist-cnn"])
    assert (
        bad_uri.exit_code == 2 and "use models:/<name>@<alias> or models:/<name>/<version>" in bad_uri.output
    )


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
