"""The text-generation app with a tiny GPT-2 built here, loaded through the same from_pretrained
path a hub id takes, deployed with `ray-aks serve` (serve.run on the builder) onto the session's
Serve and queried over real HTTP at the URL the command prints."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import yaml
from ray_aks import cli
from typer.testing import CliRunner

from tests.support.http_checks import assert_refused, json_answer
from tests.workloads.serving_fixtures import (
    REPLICA,
    TINY_CORPUS,
    assert_no_server_errors,
    build_tiny_gpt2,
    serve_base_url,
)
from tools.minilm import OFFLINE_ENV

pytestmark = pytest.mark.slow

LIMITS = {"max_input_chars": 200, "max_new_tokens_limit": 16, "max_temperature": 1.5}


@pytest.fixture(scope="module")
def cli_run(ray_local: None, tmp_path_factory: pytest.TempPathFactory):
    from ray import serve

    root = tmp_path_factory.mktemp("textgen")
    model_dir = build_tiny_gpt2(root / "tiny-gpt2")
    args = {
        **REPLICA,
        "ray_actor_options": {"runtime_env": {"env_vars": OFFLINE_ENV}},  # num_cpus: the flag below
        **LIMITS,
        "user_config": {"default_max_new_tokens": 6},
    }
    (root / "args.yaml").write_text(yaml.safe_dump({"textgen": args}))
    base = serve_base_url()  # the command finds Serve running on the session's Ray
    command = ["serve", "--app", "textgen", "--textgen-model", str(model_dir)]
    command += ["--args-file", str(root / "args.yaml"), "--num-cpus", "0.5"]
    command += ["--port", base.rsplit(":", 1)[1], "--no-block"]
    result = CliRunner().invoke(cli.app, command)
    try:
        assert result.exit_code == 0, result.output
        yield base, result.output
    finally:
        serve.delete("textgen")


@pytest.fixture(scope="module")
def url(cli_run) -> str:
    printed = re.search(r"^textgen: (\S+)", cli_run[1], re.MULTILINE)
    assert printed, cli_run[1]
    return printed.group(1)


def test_serve_command_prints_the_app_url(cli_run, url: str) -> None:
    base, output = cli_run
    assert url == base  # one app: route prefix /, so clients post to /text/simple-gen
    assert "POST /text/simple-gen" in output


def generate(url: str, body) -> requests.Response:
    return requests.post(f"{url}/text/simple-gen", json=body, timeout=60)


def test_text_generation_answers_in_the_pipeline_shape(url: str) -> None:
    body = json_answer(generate(url, {"input": "Once upon a time"}))
    assert isinstance(body, list) and len(body) == 1
    assert set(body[0]) == {"generated_text"}
    assert body[0]["generated_text"].startswith("Once upon a time")


def test_greedy_by_default_so_answers_repeat(url: str) -> None:
    first = generate(url, {"input": TINY_CORPUS[0][:20]}).json()
    second = generate(url, {"input": TINY_CORPUS[0][:20]}).json()
    assert first == second


def test_a_vanishing_temperature_decodes_greedily_instead_of_failing(url: str) -> None:
    """Found by the fuzz test: 3.4e-162 overflowed the logits to inf and sampling failed with a 500."""
    prompt = TINY_CORPUS[0][:20]
    greedy = generate(url, {"input": prompt, "temperature": 0}).json()
    for temperature in (3.387318754530487e-162, 1e-5):
        assert json_answer(generate(url, {"input": prompt, "temperature": temperature})) == greedy


def test_concurrent_requests_share_generate_calls_and_get_their_own_answers(url: str) -> None:
    """Greedy answers do not depend on the batch: each concurrent request gets what it gets alone,
    with its own max_new_tokens, although the requests shared generate calls."""
    bodies = [
        {"input": TINY_CORPUS[i % len(TINY_CORPUS)][: 5 + 3 * i], "max_new_tokens": 2 + i % 10}
        for i in range(24)
    ]
    alone = [generate(url, body).json() for body in bodies[:4]]
    with ThreadPoolExecutor(len(bodies)) as pool:
        responses = list(pool.map(lambda body: generate(url, body), bodies))
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses if r.status_code != 200]
    assert [r.json() for r in responses[:4]] == alone
    batch_sizes = [int(r.headers["x-batch-size"]) for r in responses]
    assert max(batch_sizes) > 1, f"every generate call had one request: {sorted(set(batch_sizes))}"
    assert max(batch_sizes) <= 10  # TextgenRuntime's max_batch_size


def test_generation_params_within_limits_are_accepted(url: str) -> None:
    body = {"input": "The robot", "max_new_tokens": 16, "temperature": 0.9, "top_p": 0.8}
    assert json_answer(generate(url, body))[0]["generated_text"].startswith("The robot")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param(
            {"input": "x", "max_new_tokens": 17},
            "Input should be less than or equal to 16",
            id="tokens-over-limit",
        ),
        pytest.param(
            {"input": "x", "max_new_tokens": 0},
            "Input should be greater than or equal to 1",
            id="zero-tokens",
        ),
        pytest.param(
            {"input": "x", "temperature": 1.6}, "Input should be less than or equal to 1.5", id="hot"
        ),
        pytest.param({"input": "x", "top_p": 0}, "Input should be greater than 0", id="top-p-zero"),
        pytest.param(
            {"input": "x", "max_new_tokens": "5"}, "Input should be a valid integer", id="string-number"
        ),
        pytest.param({"input": "y" * 201}, "String should have at most 200 characters", id="too-long"),
        pytest.param({"input": ""}, "String should have at least 1 character", id="empty"),
        pytest.param({"input": 42}, "Input should be a valid string", id="wrong-type"),
        pytest.param({"prompt": "x"}, "Field required", id="missing-input"),
        pytest.param({"input": "x", "max_tokens": 5}, "Extra inputs are not permitted", id="unknown-field"),
        pytest.param(["Once upon a time"], "Input should be a valid dictionary", id="not-an-object"),
    ],
)
def test_bad_request_gets_422_with_the_reason(url: str, body, reason: str) -> None:
    assert_refused(generate(url, body), 422, reason)


def test_nan_gets_422_not_500(url: str) -> None:
    response = requests.post(
        f"{url}/text/simple-gen",
        data=b'{"input": "x", "temperature": NaN}',
        headers={"content-type": "application/json"},
        timeout=60,
    )
    assert response.status_code == 422
    assert "finite number" in response.text


def test_prompt_longer_than_the_context_gets_422(url: str) -> None:
    # 200 characters of single-byte tokens exceed the tiny model's 128-token context.
    response = generate(url, {"input": "~`" * 100, "max_new_tokens": 16})
    assert response.status_code == 422
    detail = response.json()["detail"][0]
    assert detail["loc"] == ["body", "input"]
    assert "exceeds the model's context of 128 tokens" in detail["msg"]


def test_openapi_states_the_configured_limits_with_examples(url: str) -> None:
    schema = requests.get(f"{url}/openapi.json", timeout=30).json()
    request = schema["components"]["schemas"]["SimpleGenRequest"]
    assert request["properties"]["input"]["maxLength"] == 200
    assert request["examples"][0] == {"input": "Once upon a time"}
    assert {"200", "408", "413", "422"} <= set(schema["paths"]["/text/simple-gen"]["post"]["responses"])
    assert requests.get(f"{url}/healthz", timeout=30).json()["status"] == "ok"


def test_fuzzed_requests_from_the_openapi_schema_never_get_5xx(url: str) -> None:
    assert assert_no_server_errors(url) >= 15
