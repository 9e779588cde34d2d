# Python: .venv with the workloads package and the Python test tools, pinned by one lock file.
## @category Python
PYTHON     ?= python3
UV_VERSION := 0.13.9
LOCK       := workloads/requirements.lock
PY         := $(VENV)/bin/python
UV         := $(VENV)/bin/uv
VENV_STAMP := $(VENV)/.installed

# The lock is the one list of pinned versions: the test .venv and the images install from it.
# --compile-bytecode: every module's .pyc is written once, here. uv leaves that to the first import,
# which never writes it where PYTHONDONTWRITEBYTECODE is set (as on this project's build machines):
# every process, each Ray worker included, then compiled torch, Ray and the rest from source at each
# start (`import ray.train.torch` 6.8 s against 3.5 s compiled, on 2 cores). uv compiles what it
# installs: a .venv made before this flag gets it from `rm -rf .venv && make venv`. The images' pip
# compiles.
$(VENV_STAMP): $(LOCK) workloads/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet uv==$(UV_VERSION)
	$(UV) pip install --quiet --compile-bytecode --python $(PY) --constraint $(LOCK) --editable 'workloads[dev]'
	touch $@

.PHONY: venv lock lint-python test-python test-fast test-slow
venv: $(VENV_STAMP) ## Create .venv: the workloads package and test tools, pinned by workloads/requirements.lock

# Needs PyPI: not in GENERATED, no offline check can regenerate it (make/generated.mk).
lock: $(VENV_STAMP) ## Regenerate workloads/requirements.lock from workloads/pyproject.toml (needs PyPI)
	$(UV) pip compile workloads/pyproject.toml --all-extras --python-version 3.11 \
	  --python-platform x86_64-manylinux_2_28 --no-header --quiet --output-file $(LOCK)

lint-python: $(VENV_STAMP) ## ruff lint and format check of workloads/, tests/ and benchmarks/
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# tests/chart renders with $(HELM); tests/reliability checks its fuzzed renders with the pinned
# kubeconform and kube-linter against the generated schemas: `tools` builds them all; tests/infra
# evaluates the AKS module with the pinned OpenTofu (infra-tools).
# The tests pytest runs here: test-containers and e2e run the container and e2e ones.
PYTEST_MARKS := not container and not e2e
test-python: $(VENV_STAMP) | tools infra-tools ## pytest: workloads against a real local Ray and MLflow server, slow tests included (not the container and e2e tests)
	$(PY) -m pytest -m "$(PYTEST_MARKS)"

# The edit loop's share of pytest (`make check`): every test not marked slow, container or e2e.
test-fast: $(VENV_STAMP) | tools infra-tools ## pytest without the slow, container and e2e tests (make check runs it)
	$(PY) -m pytest -m "not slow and $(PYTEST_MARKS)"

# The rest of test-python: test-fast and test-slow together are test-python, each test once.
test-slow: $(VENV_STAMP) | tools infra-tools ## pytest of the slow tests only (not the container and e2e tests): test-python without test-fast
	$(PY) -m pytest -m "slow and $(PYTEST_MARKS)"

# `make test` runs test-python as its two parts: test-fast beside e2e (the Makefile says why), the
# rest (lint-python, test-slow) after every other check.
PYTHON_CHECKS := lint-python test-slow
