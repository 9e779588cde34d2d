# Reliability and security: values fuzzing, PSS restricted, exposure and secret checks on
# the chart; load, slow/oversize clients, schema fuzzing and replica kills on Serve; worker and
# driver kills in Ray Train; token auth on a real Ray head. Tests in tests/reliability, and
# tests/chart/test_token_auth.py (the token auth, beside the `helm test` hook that shares its head).
#
# `make test` runs them at their small sizes through test-fast and test-slow (pytest collects tests/, so a
# separate TEST_TARGETS entry would run them twice); test-reliability is the quick loop over this
# area alone. `make reliability` runs them at their full sizes (600 values mutations,
# 10,000 requests per app at concurrency 64, ...). Each size can be overridden, e.g.
# `make reliability RELIABILITY_LOAD_REQUESTS=20000` (tests/reliability/sizes.py lists them).
## @category Reliability

RELIABILITY_TESTS := tests/reliability tests/chart/test_token_auth.py
# The fuzzed renders are checked with the pinned kubeconform and kube-linter (tools.mk) against the
# generated schemas, which `tools` builds.
RELIABILITY_ENV = KUBECONFORM=$(KUBECONFORM) KUBE_LINTER=$(KUBE_LINTER)

.PHONY: test-reliability reliability
test-reliability: | tools ## Reliability and security tests at small sizes (run by `make test` through test-fast and test-slow)
	$(RELIABILITY_ENV) $(PY) -m pytest $(RELIABILITY_TESTS) -rP

reliability: | tools ## Reliability and security tests at full sizes (600 values mutations, 10,000 requests per app, ...)
	$(RELIABILITY_ENV) RELIABILITY_FULL=1 $(PY) -m pytest $(RELIABILITY_TESTS) -rP
