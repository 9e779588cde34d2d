"""TextGenerator.generate_batch, the text-generation app's batched path, on a tiny GPT-2 built here."""

from __future__ import annotations

from pathlib import Path

import pytest
from ray_aks.models.text_generator import GenerationParams, PromptTooLongError, TextGenerator

from tests.workloads.serving_fixtures import TINY_CORPUS, build_tiny_gpt2


@pytest.fixture(scope="module")
def generator(tmp_path_factory: pytest.TempPathFactory) -> TextGenerator:
    return TextGenerator(str(build_tiny_gpt2(Path(tmp_path_factory.mktemp("gpt2")) / "model")))


def greedy(tokens: int) -> GenerationParams:
    return GenerationParams(max_new_tokens=tokens, temperature=0.0, top_p=1.0)


def test_a_batch_of_greedy_prompts_answers_each_as_it_would_alone(generator: TextGenerator) -> None:
    # Prompts of different lengths (left padding) and different max_new_tokens (one call runs to the
    # largest; each answer keeps its own count).
    prompts = [(TINY_CORPUS[i % 3][: 4 + 9 * i], greedy(1 + 5 * i)) for i in range(4)]
    alone = [generator.generate(text, params) for text, params in prompts]
    batched = generator.generate_batch([generator.prepare(text, params) for text, params in prompts])
    assert batched == alone


def test_prompts_with_other_sampling_settings_run_in_their_own_call(generator: TextGenerator) -> None:
    sampled = GenerationParams(max_new_tokens=6, temperature=0.9, top_p=0.8)
    prompts = [("The robot", greedy(6)), ("The robot", sampled), ("One day", greedy(3))]
    calls: list[int] = []
    original = generator.model.generate

    def counting_generate(**kwargs):
        calls.append(kwargs["input_ids"].shape[0])
        return original(**kwargs)

    generator.model.generate = counting_generate
    try:
        answers = generator.generate_batch([generator.prepare(text, params) for text, params in prompts])
    finally:
        generator.model.generate = original
    assert sorted(calls) == [1, 2]  # the two greedy prompts shared one call
    assert answers[0] == generator.generate("The robot", greedy(6))
    assert answers[2] == generator.generate("One day", greedy(3))
    assert answers[1][0]["generated_text"].startswith("The robot")


def test_prepare_refuses_a_prompt_that_leaves_no_room_in_the_context(generator: TextGenerator) -> None:
    with pytest.raises(PromptTooLongError, match="exceeds the model's context of 128 tokens"):
        generator.prepare("~`" * 100, greedy(16))
