"""The MNIST app on a real local Serve: a model trained here, registered in a real MLflow server,
served from `models:/mnist-cnn@champion`, queried over real HTTP in every input form."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

import numpy as np
import pytest
import requests
from ray_aks.data.digits import digits_28x28
from ray_aks.serving import mnist

from tests.support.http_checks import assert_refused, json_answer
from tests.workloads.serving_fixtures import (
    REPLICA,
    assert_no_server_errors,
    b64,
    concurrently,
    deployed,
    png_bytes,
    read_reply,
)

pytestmark = pytest.mark.slow

MAX_BODY = 64_000
RUNTIME = {
    "max_body_bytes": MAX_BODY,
    "body_timeout_s": 2.0,
    "max_batch_size": 16,
    "batch_wait_timeout_s": 0.05,
}


@pytest.fixture(scope="module")
def digits():
    return digits_28x28()


@pytest.fixture(scope="module")
def champion(mlflow_server: str, digits) -> str:
    """Train the MNIST CNN for 2 epochs on the digits, log and register it as the training side does."""
    import mlflow
    import torch
    from ray_aks.models.mnist_cnn import MnistCNN

    torch.manual_seed(0)
    images = torch.from_numpy(digits.train_images).float().div(255).unsqueeze(1)
    labels = torch.from_numpy(digits.train_labels).long()
    model = MnistCNN()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    for _ in range(2):
        model.train()
        order = torch.randperm(len(images))
        for start in range(0, len(images), 64):
            batch = order[start : start + 64]
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(images[batch]), labels[batch]).backward()
            optimizer.step()
    model.eval()

    mlflow.set_tracking_uri(mlflow_server)
    mlflow.set_experiment("serving-tests")
    with mlflow.start_run():
        # MLflow 3 exports the model with torch.export (pt2): it needs an example batch (> 1 for a
        # dynamic batch dimension) and keeps the mode it is exported in, hence eval() above.
        info = mlflow.pytorch.log_model(
            model, name="model", registered_model_name="mnist-cnn", input_example=images[:2].numpy()
        )
    mlflow.MlflowClient(mlflow_server).set_registered_model_alias(
        "mnist-cnn", "champion", info.registered_model_version
    )
    return mnist.DEFAULT_MODEL


@pytest.fixture(scope="module")
def url(ray_local: None, mlflow_server: str, champion: str):
    # No `model` arg: the default models:/mnist-cnn@champion is what is served.
    args = {**REPLICA, "tracking_uri": mlflow_server, "user_config": RUNTIME}
    with deployed(mnist.app(args), "mnist", "/mnist") as app_url:
        yield app_url


def predict(url: str, **kwargs) -> requests.Response:
    return requests.post(f"{url}/predict", timeout=60, **kwargs)


def post_to_prefix(url: str, **kwargs) -> requests.Response:
    """What a client of the root does: POST to the app's route prefix itself. A redirect (to the
    prefix with a slash) would fail a client that does not follow it, so none is followed."""
    return requests.post(url, timeout=60, allow_redirects=False, **kwargs)


def test_healthz_names_the_model(url: str) -> None:
    answer = json_answer(requests.get(f"{url}/healthz", timeout=30))
    assert answer == {"status": "ok", "model": "models:/mnist-cnn@champion"}


def test_json_data_at_the_route_prefix_gets_the_documented_shape(url: str, digits) -> None:
    pixels = (digits.test_images[0] / 255.0).tolist()
    body = json_answer(predict(url, json={"data": pixels}))
    assert set(body) == {"prediction", "confidence", "probabilities"}
    assert len(body["probabilities"]) == 10
    assert body["prediction"] == int(np.argmax(body["probabilities"]))
    assert body["confidence"] == pytest.approx(max(body["probabilities"]))
    assert sum(body["probabilities"]) == pytest.approx(1.0, abs=1e-4)


def test_held_out_accuracy_over_http_and_batches_form(url: str, digits) -> None:
    images, labels = digits.test_images, digits.test_labels

    def call(i: int) -> requests.Response:
        return predict(url, json={"data": (images[i] / 255.0).tolist()})

    responses = concurrently(call, len(images), workers=24)
    assert all(r.status_code == 200 for r in responses)
    predictions = np.array([r.json()["prediction"] for r in responses])
    accuracy = float((predictions == labels).mean())
    assert accuracy >= 0.9, f"accuracy {accuracy:.3f} over {len(labels)} held-out digits"
    batch_sizes = [int(r.headers["x-batch-size"]) for r in responses]
    assert max(batch_sizes) > 1, f"every batch had one request: {sorted(set(batch_sizes))}"
    assert max(batch_sizes) <= RUNTIME["max_batch_size"]


def test_every_image_form_gives_the_same_answer(url: str, digits) -> None:
    digit = digits.test_images[3]
    expected = predict(url, json={"data": (digit / 255.0).tolist()}).json()
    png = png_bytes(digit)
    answers = {
        "json base64": predict(url, json={"image": b64(png)}),
        "data url": predict(url, json={"image": "data:image/png;base64," + b64(png)}),
        "raw png": predict(url, data=png, headers={"content-type": "image/png"}),
        # A dark digit on white paper, 3x larger: inverted and resized to MNIST's form.
        "raw inverted": predict(
            url,
            data=png_bytes(np.kron(255 - digit, np.ones((3, 3), dtype=np.uint8))),
            headers={"content-type": "image/png"},
        ),
    }
    for form, response in answers.items():
        assert response.status_code == 200, (form, response.text)
        assert response.json()["prediction"] == expected["prediction"], form
    assert answers["raw png"].json()["probabilities"] == pytest.approx(expected["probabilities"], abs=1e-5)
    jpeg = json_answer(predict(url, data=png_bytes(digit, "JPEG"), headers={"content-type": "image/jpeg"}))
    assert 0 <= jpeg["prediction"] <= 9


def test_json_rows_or_flat_pixels_posted_to_the_route_prefix_get_the_predict_answer(url: str, digits) -> None:
    # The 28x28 JSON request posted to the route prefix itself (http://localhost:8000/mnist).
    pixels = digits.test_images[5] / 255.0
    expected = predict(url, json={"data": pixels.tolist()}).json()
    answers = {
        "rows": post_to_prefix(url, json={"data": pixels.tolist()}),
        "flat": post_to_prefix(url, json={"data": pixels.ravel().tolist()}),
    }
    for form, response in answers.items():
        assert response.status_code == 200, (form, response.text)
        body = response.json()
        assert set(body) == {"prediction", "confidence", "probabilities"}, form
        assert body["prediction"] == expected["prediction"], form
        assert body["probabilities"] == pytest.approx(expected["probabilities"], abs=1e-5), form
        assert int(response.headers["x-batch-size"]) >= 1


FLAT = [0.0] * 784
ROOT_LAYOUT = "data must be 28 rows of 28 numbers or a flat list of 784 numbers"


# Bad requests to the route prefix (the root's JSON API): (body, content type, status, reason).
BAD_AT_THE_PREFIX = {
    "27-rows": (json.dumps({"data": [[0.0] * 28] * 27}), "application/json", 422, "at least 28 items"),
    "783-flat": (json.dumps({"data": FLAT[:-1]}), "application/json", 422, "at least 784 items"),
    "785-flat": (json.dumps({"data": [*FLAT, 0.0]}), "application/json", 422, "at most 784 items"),
    "empty": (json.dumps({"data": []}), "application/json", 422, "at least 784 items"),
    "mixed-rows-and-flat": (
        json.dumps({"data": [*[0.5] * 783, [0.5]]}),
        "application/json",
        422,
        "Input should be a valid number",
    ),
    "string-pixels": (
        json.dumps({"data": ["0.5"] * 784}),
        "application/json",
        422,
        "Input should be a valid number",
    ),
    "out-of-range": (json.dumps({"data": [2.0] * 784}), "application/json", 422, "less than or equal to 1"),
    "nan": ('{"data": [NaN' + ",0" * 783 + "]}", "application/json", 422, "Input should be a finite number"),
    "wrong-type": (json.dumps({"data": "pixels"}), "application/json", 422, ROOT_LAYOUT),
    "null": (json.dumps({"data": None}), "application/json", 422, ROOT_LAYOUT),
    "missing-data": (json.dumps({}), "application/json", 422, "Field required"),
    "unknown-field": (
        json.dumps({"data": FLAT, "label": 3}),
        "application/json",
        422,
        "Extra inputs are not permitted",
    ),
    "invalid-json": ("{not json", "application/json", 422, "Invalid JSON"),
    "not-json": (json.dumps({"data": FLAT}), "text/plain", 415, "unsupported content-type 'text/plain'"),
}


def test_openapi_documents_the_root_route_with_examples(url: str) -> None:
    post = requests.get(f"{url}/openapi.json", timeout=30).json()["paths"]["/"]["post"]
    examples = post["requestBody"]["content"]["application/json"]["examples"]
    assert set(examples) == {"rows", "flat"}
    assert {"200", "408", "413", "415", "422"} <= set(post["responses"])
    for example in examples.values():
        assert post_to_prefix(url, json=example["value"]).status_code == 200


ROW = [0.0] * 28
TRUNCATED_PNG = png_bytes(np.random.default_rng(0).integers(0, 255, (28, 28), dtype=np.uint8))[:400]


# Bad requests to /predict: (body, content type, status, reason).
BAD_AT_PREDICT = {
    "27-rows": (
        json.dumps({"data": [ROW] * 27}),
        "application/json",
        422,
        "List should have at least 28 items",
    ),
    "29-columns": (
        json.dumps({"data": [ROW] * 27 + [[0.0] * 29]}),
        "application/json",
        422,
        "at most 28 items",
    ),
    "nan": (
        '{"data": [' + ",".join(["[NaN" + ",0" * 27 + "]"] + [json.dumps(ROW)] * 27) + "]}",
        "application/json",
        422,
        "Input should be a finite number",
    ),
    "string-pixels": (
        json.dumps({"data": [["0.5"] * 28] * 28}),
        "application/json",
        422,
        "Input should be a valid number",
    ),
    "out-of-range": (
        json.dumps({"data": [[2.0] * 28] * 28}),
        "application/json",
        422,
        "less than or equal to 1",
    ),
    "wrong-type": (json.dumps({"data": "pixels"}), "application/json", 422, '"type":"list_type"'),
    "neither-field": (json.dumps({}), "application/json", 422, "exactly one of 'data'"),
    "both-fields": (
        json.dumps({"data": [ROW] * 28, "image": "x"}),
        "application/json",
        422,
        "exactly one of 'data'",
    ),
    "unknown-field": (json.dumps({"pixels": []}), "application/json", 422, "Extra inputs are not permitted"),
    "invalid-json": ("{not json", "application/json", 422, "Invalid JSON"),
    "bad-base64": (
        json.dumps({"image": "***not base64***"}),
        "application/json",
        400,
        "image is not valid base64",
    ),
    "base64-not-image": (
        json.dumps({"image": b64(b"hello, not an image")}),
        "application/json",
        400,
        "not an image",
    ),
    "truncated-png": (TRUNCATED_PNG, "image/png", 400, "image could not be decoded: image file is truncated"),
    "raw-not-image": (b"\x00\x01\x02 random bytes", "image/png", 400, "not an image"),
    "empty-image": (b"", "image/png", 400, "image is empty"),
    "unsupported-type": ("data=1", "text/plain", 415, "unsupported content-type 'text/plain'"),
}


@pytest.mark.parametrize(
    ("send", "body", "content_type", "status", "reason"),
    [
        *(
            pytest.param(post_to_prefix, *case, id=f"prefix-{name}")
            for name, case in BAD_AT_THE_PREFIX.items()
        ),
        *(pytest.param(predict, *case, id=f"predict-{name}") for name, case in BAD_AT_PREDICT.items()),
    ],
)
def test_bad_input_gets_4xx_with_the_reason(
    url: str, send: Callable[..., requests.Response], body, content_type: str, status: int, reason: str
) -> None:
    assert_refused(send(url, data=body, headers={"content-type": content_type}), status, reason)


def test_decompression_bomb_gets_400(url: str) -> None:
    bomb = png_bytes(np.zeros((5000, 5000), dtype=np.uint8))  # 25 MP that compress to a few KB
    assert len(bomb) < MAX_BODY
    response = predict(url, data=bomb, headers={"content-type": "image/png"})
    assert response.status_code == 400
    assert response.json() == {"detail": "image is 5000x5000 pixels; the limit is 16000000 pixels"}


def test_declared_oversize_body_gets_413(url: str) -> None:
    response = predict(url, data=b"x" * (MAX_BODY + 1), headers={"content-type": "image/png"})
    assert response.status_code == 413
    assert response.json() == {"detail": f"request body is larger than the limit of {MAX_BODY} bytes"}


def test_chunked_oversize_body_gets_413(url: str) -> None:
    chunks = (
        b"x" * 10_000 for _ in range(MAX_BODY // 10_000 + 2)
    )  # no Content-Length: counted as it streams
    response = predict(url, data=chunks, headers={"content-type": "image/png"})
    assert response.status_code == 413
    assert "larger than the limit" in response.json()["detail"]


def test_slow_body_gets_408(url: str) -> None:
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=60) as conn:
        conn.sendall(
            f"POST {parts.path}/predict HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"data": ['.encode()
        )
        reply = read_reply(conn, until=b"request body not received")  # the rest of the body never comes
    assert reply.startswith("HTTP/1.1 408"), reply
    assert "request body not received within 2s" in reply


def test_openapi_documents_every_input_form_with_examples(url: str) -> None:
    schema = requests.get(f"{url}/openapi.json", timeout=30).json()
    post = schema["paths"]["/predict"]["post"]
    content = post["requestBody"]["content"]
    assert set(content) == {"application/json", "image/png", "image/jpeg"}
    assert set(content["application/json"]["examples"]) == {"pixels", "image"}
    assert {"200", "400", "408", "413", "415", "422"} <= set(post["responses"])
    assert "/healthz" in schema["paths"]
    example = content["application/json"]["examples"]["image"]["value"]
    assert predict(url, json=example).status_code == 200


def test_reconfigure_changes_batching_in_place(ray_local: None, url: str, mlflow_server: str, digits) -> None:
    from ray import serve

    # Same app, new user_config: Serve calls reconfigure() on the replica.
    unbatched = {**RUNTIME, "max_batch_size": 1}
    args = {**REPLICA, "tracking_uri": mlflow_server, "user_config": unbatched}
    serve.run(mnist.app(args), name="mnist", route_prefix="/mnist")
    pixels = (digits.test_images[0] / 255.0).tolist()
    responses = concurrently(lambda _: predict(url, json={"data": pixels}), 32)
    assert all(r.status_code == 200 for r in responses)
    assert {r.headers["x-batch-size"] for r in responses} == {"1"}


def test_checkpoint_directory_source_loads_the_same_model(tmp_path, digits) -> None:
    import torch
    from ray_aks.models.mnist_cnn import MnistCNN, save_checkpoint
    from ray_aks.serving.model_source import load_mnist_model

    torch.manual_seed(1)
    original = MnistCNN().eval()
    save_checkpoint(original, tmp_path)
    loaded = load_mnist_model(str(tmp_path))
    batch = torch.from_numpy(digits.test_images[:4]).float().div(255).unsqueeze(1)
    with torch.inference_mode():
        assert torch.allclose(original(batch), loaded(batch))


def test_fuzzed_requests_from_the_openapi_schema_never_get_5xx(url: str) -> None:
    assert assert_no_server_errors(url) >= 15
