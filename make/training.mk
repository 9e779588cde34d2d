# Training workloads: `make test` runs these tests (test-fast, test-slow); this target is the
# quick loop over the training area alone (real local Ray and MLflow server, slow tests included).
## @category Python
TRAINING_TESTS := $(sort $(wildcard tests/workloads/test_idx*.py tests/workloads/test_train_mnist*.py \
  tests/workloads/test_train_clip*.py tests/workloads/test_tune*.py tests/workloads/test_preprocess*.py \
  tests/workloads/test_tracking*.py tests/workloads/test_cli_training*.py))

.PHONY: test-training
test-training: $(VENV_STAMP) ## pytest: training, tuning, preprocessing and tracking workloads only
	$(PY) -m pytest $(TRAINING_TESTS)
