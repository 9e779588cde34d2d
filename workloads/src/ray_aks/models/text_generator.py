"""Causal-LM text generation (distilgpt2 in the images) answering like transformers' pipeline. No Ray.

`generate` returns [{"generated_text": prompt + continuation}], the shape of
`pipeline("text-generation")(prompt)` that /text/simple-gen answers with; `generate_batch`
answers many prompts in as few model calls as their decoding settings allow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Below this, sampling is greedy decoding in all but name (its limit as the temperature goes to 0),
# and dividing the logits by it overflows float32 to inf, so that sampling fails on NaN weights.
GREEDY_BELOW_TEMPERATURE = 1e-3


class PromptTooLongError(ValueError):
    """The prompt plus the requested new tokens do not fit the model's context."""


@dataclass(frozen=True)
class GenerationParams:
    max_new_tokens: int
    temperature: float  # 0 (or below GREEDY_BELOW_TEMPERATURE) means greedy decoding
    top_p: float

    def sampling_key(self) -> tuple[float, float] | None:
        """None for greedy decoding, else (temperature, top_p): requests with one key batch together."""
        if self.temperature < GREEDY_BELOW_TEMPERATURE:
            return None
        return (self.temperature, self.top_p)


@dataclass(frozen=True)
class Prompt:
    """A prompt checked against the context, ready for generate_batch."""

    text: str
    tokens: tuple[int, ...]
    params: GenerationParams


class TextGenerator:
    def __init__(self, model: str, device: str = "cpu", torch_threads: int | None = None):
        """`model` is a hub id (e.g. distilgpt2) or a local save_pretrained directory."""
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if torch_threads:
            torch.set_num_threads(torch_threads)
        self.device = device
        self.tokenizer = AutoTokenizer.from_pretrained(model)
        self.model = AutoModelForCausalLM.from_pretrained(model).to(device).eval()
        self.context_length = int(
            getattr(self.model.config, "n_positions", 0) or self.model.config.max_position_embeddings
        )
        # GPT-2 has no pad token; generation pads with end-of-text, as the pipeline does.
        self.pad_token_id = (
            self.tokenizer.pad_token_id
            if self.tokenizer.pad_token_id is not None
            else self.tokenizer.eos_token_id
        )

    def count_tokens(self, prompt: str) -> int:
        return len(self.tokenizer(prompt)["input_ids"])

    def prepare(self, prompt: str, params: GenerationParams) -> Prompt:
        """The prompt's tokens; PromptTooLongError when they and the new tokens exceed the context."""
        tokens = self.tokenizer(prompt)["input_ids"]
        if len(tokens) + params.max_new_tokens > self.context_length:
            raise PromptTooLongError(
                f"the prompt is {len(tokens)} tokens; with max_new_tokens={params.max_new_tokens} "
                f"that exceeds the model's context of {self.context_length} tokens"
            )
        return Prompt(prompt, tuple(tokens), params)

    def generate(self, prompt: str, params: GenerationParams) -> list[dict[str, Any]]:
        return self.generate_batch([self.prepare(prompt, params)])[0]

    def generate_batch(self, prompts: list[Prompt]) -> list[list[dict[str, Any]]]:
        """Each prompt's answer, in order. Prompts that decode alike (greedy, or the same temperature
        and top_p) share one `model.generate` call, left-padded, run to the group's largest
        max_new_tokens; each answer keeps its own first max_new_tokens tokens, which is what a call
        of its own would give (decoding one token does not depend on how many follow)."""
        answers: list[list[dict[str, Any]]] = [[] for _ in prompts]
        groups: dict[tuple[float, float] | None, list[int]] = {}
        for index, prompt in enumerate(prompts):
            groups.setdefault(prompt.params.sampling_key(), []).append(index)
        for key, indices in groups.items():
            continuations = self._generate_group([prompts[i] for i in indices], key)
            for index, continuation in zip(indices, continuations, strict=True):
                answers[index] = [{"generated_text": prompts[index].text + continuation}]
        return answers

    def _generate_group(self, prompts: list[Prompt], key: tuple[float, float] | None) -> list[str]:
        import torch

        longest = max(len(p.tokens) for p in prompts)
        pad = self.pad_token_id
        # Left padding: every prompt ends where generation starts.
        padding = [longest - len(p.tokens) for p in prompts]
        input_ids = torch.tensor([[pad] * n + list(p.tokens) for n, p in zip(padding, prompts, strict=True)])
        attention_mask = torch.tensor([[0] * n + [1] * (longest - n) for n in padding])
        sampling: dict[str, Any] = {"do_sample": False}
        if key is not None:
            sampling = {"do_sample": True, "temperature": key[0], "top_p": key[1]}
        with torch.inference_mode():
            output = self.model.generate(
                input_ids=input_ids.to(self.device),
                attention_mask=attention_mask.to(self.device),
                max_new_tokens=max(p.params.max_new_tokens for p in prompts),
                pad_token_id=pad,
                **sampling,
            )
        new_tokens = output[:, longest:]
        return [
            self.tokenizer.decode(row[: p.params.max_new_tokens], skip_special_tokens=True)
            for row, p in zip(new_tokens, prompts, strict=True)
        ]
