# Benchmarks (issue 7): every workload against its plain alternative, as ratios. Not part of `make test`:
# timings belong here. Smaller sizes for a quick look, e.g.
#   make bench BENCH_RUNS=1 BENCH_SERVE_SECONDS=4 BENCH_EMBED_ROWS=2000 BENCH_TRAIN_EPOCHS=5
## @category Benchmarks
BENCH_ONLY          ?= serving,embedding,training,chart
BENCH_RUNS          ?= 3
BENCH_SERVE_SECONDS ?= 6
BENCH_CONCURRENCY   ?= 1,8,32
BENCH_EMBED_ROWS    ?= 8000
BENCH_TRAIN_WORKERS ?= 2
BENCH_TRAIN_EPOCHS  ?= 10
BENCH_CHART_RUNS    ?= 10

.PHONY: bench
bench: $(VENV_STAMP) $(HELM) ## Benchmarks vs plain baselines (serving, embedding, training, chart) -> benchmarks/results/
	$(PY) -m benchmarks --only $(BENCH_ONLY) --runs $(BENCH_RUNS) \
	  --serve-seconds $(BENCH_SERVE_SECONDS) --serve-concurrency $(BENCH_CONCURRENCY) \
	  --embed-rows $(BENCH_EMBED_ROWS) --train-workers $(BENCH_TRAIN_WORKERS) \
	  --train-epochs $(BENCH_TRAIN_EPOCHS) --chart-runs $(BENCH_CHART_RUNS)
