# Benchmarks: bench/README.md. `make bench` is the full comparison (about 15 minutes; it
# rewrites the generated part of docs/BENCHMARKS.md and docs/benchmarks.png);
# `make bench-quick` is a short pass at small sizes that leaves docs/ alone.

.PHONY: bench bench-quick

bench:
	BENCH_CMD="make bench" bash bench/run.sh

bench-quick:
	BENCH_CMD="make bench-quick" bash bench/run.sh --quick
