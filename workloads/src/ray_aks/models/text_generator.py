"""Causal-LM text generation (distilgpt2 in the images) answering like transformers' pipeline. No Ray.

`generate` returns [{"generated_text": prompt + continuation}], the shape of
`pipeline("text-generation")(prompt)` that the seed's /text/simple-gen returned.
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

    def generate(self, prompt: str, params: GenerationParams) -> list[dict[str, Any]]:
        import torch

        inputs = self.tokenizer(prompt, return_tensors="pt").to(self.device)
        prompt_tokens = inputs["input_ids"].shape[1]
        if prompt_tokens + params.max_new_tokens > self.context_length:
            raise PromptTooLongError(
                f"the prompt is {prompt_tokens} tokens; with max_new_tokens={params.max_new_tokens} "
                f"that exceeds the model's context of {self.context_length} tokens"
            )
        sampling: dict[str, Any] = (
            {"do_sample": True, "temperature": params.temperature, "top_p": params.top_p}
            if params.temperature >= GREEDY_BELOW_TEMPERATURE
            else {"do_sample": False}
        )
        with torch.inference_mode():
            output = self.model.generate(
                **inputs, max_new_tokens=params.max_new_tokens, pad_token_id=self.pad_token_id, **sampling
            )
        continuation = self.tokenizer.decode(output[0, prompt_tokens:], skip_special_tokens=True)
        return [{"generated_text": prompt + continuation}]
