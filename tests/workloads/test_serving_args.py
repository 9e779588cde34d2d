"""Builder args as serveConfigV2 gives them: validation messages, Serve options, light imports."""

from __future__ import annotations

import importlib
import subprocess
import sys

import numpy as np
import pytest
from ray.serve import Application
from ray_aks.embedding.config import EmbedConfig
from ray_aks.serving import embeddings, mnist, textgen
from ray_aks.serving.apps import SERVE_APPS
from ray_aks.serving.config import BatchedRuntime
from ray_aks.serving.images import ImageDecodeError, decode_base64, to_mnist_pixels

from tests.workloads.serving_fixtures import png_bytes

BUILDERS = [importlib.import_module(app.module).app for app in SERVE_APPS]


def test_builder_modules_import_no_model_libraries() -> None:
    modules = ", ".join(app.module for app in SERVE_APPS)
    code = (
        f"import sys, {modules}; "
        "heavy = ('torch', 'transformers', 'mlflow', 'sentence_transformers'); "
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("builder", BUILDERS, ids=[app.name for app in SERVE_APPS])
def test_default_args_build_an_application_without_loading_a_model(builder) -> None:
    assert isinstance(builder({}), Application)


@pytest.mark.parametrize(
    ("builder", "args", "message"),
    [
        (
            mnist.app,
            {"modle": "x"},
            "invalid args for ray_aks.serving.mnist:app: modle: Extra inputs are not permitted",
        ),
        (mnist.app, {"model": "models:/mnist-cnn"}, "use models:/<name>@<alias> or models:/<name>/<version>"),
        (
            mnist.app,
            {"user_config": {"max_batch_size": 0}},
            "user_config.max_batch_size: Input should be greater",
        ),
        (
            mnist.app,
            {"num_replicas": 2, "autoscaling_config": {"max_replicas": 3}},
            "set num_replicas or autoscaling_config, not both",
        ),
        (
            mnist.app,
            {"autoscaling_config": {"max_replica": 3}},
            "unknown autoscaling_config keys: max_replica",
        ),
        (mnist.app, {"autoscaling_config": {"min_replicas": 4, "max_replicas": 2}}, "autoscaling_config"),
        (mnist.app, {"ray_actor_options": {"num_gpu": 1}}, "ray_actor_options.num_gpu: Extra inputs"),
        (
            textgen.app,
            {"max_new_tokens_limit": 10, "user_config": {"default_max_new_tokens": 20}},
            "default_max_new_tokens=20 is above max_new_tokens_limit=10",
        ),
        (textgen.app, {"max_temperature": "hot"}, "max_temperature: Input should be a valid number"),
        (embeddings.app, {"max_texts": 0}, "max_texts: Input should be greater than or equal to 1"),
        (
            embeddings.app,
            {"user_config": {"body_timeout_s": -1}},
            "user_config.body_timeout_s: Input should be greater",
        ),
    ],
    ids=[
        "unknown-key",
        "bad-registry-uri",
        "zero-batch",
        "replicas-and-autoscaling",
        "autoscaling-typo",
        "autoscaling-min-over-max",
        "actor-option-typo",
        "default-over-limit",
        "wrong-type",
        "zero-texts",
        "negative-timeout",
    ],
)
def test_bad_args_fail_naming_the_app_and_key(builder, args, message: str) -> None:
    with pytest.raises(ValueError, match=r"invalid args for ray_aks\.serving") as caught:
        builder(args)
    assert message in str(caught.value)


def test_args_become_serve_deployment_options() -> None:
    args = mnist.MnistArgs(
        model="models:/mnist-cnn/3",
        ray_actor_options={"num_cpus": 2, "num_gpus": 1},
        autoscaling_config={"min_replicas": 1, "max_replicas": 4, "target_ongoing_requests": 8},
        max_ongoing_requests=64,
        user_config={"max_batch_size": 128},
    )
    options = args.deployment_options(args.user_config)
    assert options["ray_actor_options"] == {"num_cpus": 2, "num_gpus": 1}
    assert options["autoscaling_config"]["max_replicas"] == 4
    assert "num_replicas" not in options
    assert options["user_config"] == BatchedRuntime(max_batch_size=128).model_dump()
    assert options["max_ongoing_requests"] == 64
    assert (args.device, args.threads) == ("cuda", 2)
    fixed = mnist.MnistArgs(model="/mnt/cluster_storage/checkpoints/best")
    assert fixed.deployment_options(fixed.user_config)["num_replicas"] == 1
    assert (fixed.device, fixed.threads) == ("cpu", 1)


def test_default_model_is_the_registered_champion() -> None:
    assert mnist.MnistArgs().model == "models:/mnist-cnn@champion"
    assert textgen.TextgenArgs().model == "distilgpt2"
    assert embeddings.EmbeddingsArgs().model == "sentence-transformers/all-MiniLM-L6-v2"


def test_image_decoding_reasons() -> None:
    with pytest.raises(ImageDecodeError, match="not valid base64"):
        decode_base64("abc$")
    digit = np.zeros((28, 28), dtype=np.uint8)
    digit[4:24, 12:16] = 255
    assert decode_base64("data:image/png;base64," + __import__("base64").b64encode(b"png").decode()) == b"png"
    pixels = to_mnist_pixels(png_bytes(digit), max_pixels=10_000)
    np.testing.assert_allclose(pixels, digit / 255.0, atol=1e-6)
    inverted = to_mnist_pixels(png_bytes(255 - digit), max_pixels=10_000)  # dark on light -> MNIST polarity
    np.testing.assert_allclose(inverted, digit / 255.0, atol=1e-6)
    with pytest.raises(ImageDecodeError, match="image is 56x56 pixels; the limit is 1000 pixels"):
        to_mnist_pixels(png_bytes(np.kron(digit, np.ones((2, 2), dtype=np.uint8))), max_pixels=1000)


def test_embed_config_rejects_inconsistent_kind_and_format(tmp_path) -> None:
    with pytest.raises(ValueError, match="kind=image reads an image folder"):
        EmbedConfig(input=str(tmp_path), output="o", kind="image", input_format="parquet")
    (tmp_path / "part.parquet").write_bytes(b"")
    assert EmbedConfig(input=str(tmp_path), output="o").resolved_format.value == "parquet"
    assert EmbedConfig(input="corpus.txt", output="o").resolved_format.value == "lines"
    assert EmbedConfig(input="x", output="o", kind="image").resolved_model == "openai/clip-vit-base-patch32"
