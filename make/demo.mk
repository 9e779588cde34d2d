# `make demo`: the whole ML pipeline on a local Ray (no cluster, no model hub), from a fresh clone:
# it builds .venv first. Not part of `make test` (it takes minutes); see README.md.
## @category Demo
DEMO_DIR    := $(CACHE)/demo
DEMO_EPOCHS ?= 3

.PHONY: demo
demo: $(VENV_STAMP) ## Local pipeline: preprocess, train (2 workers), MLflow registry, Serve MNIST + embeddings
	$(PY) -m tools.demo --workdir $(DEMO_DIR) --epochs $(DEMO_EPOCHS)
