# The two README commands: `make demo` and `make test` (each sets up .venv first).
VENV ?= .venv
PY := $(VENV)/bin/python
# Datasets are read from here instead of being downloaded (no network on CI machines).
export SCDEEPCLUST_DATASETDIR ?= $(abspath ../shared/data)

.PHONY: setup demo test test-quick benchmark lint

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	# CPU build of torch first: a bare `torch` requirement would pull GBs of CUDA wheels.
	$(VENV)/bin/pip install --quiet torch==2.13.0
	$(VENV)/bin/pip install --quiet -e ".[test]"
	touch $@

demo: setup
	$(PY) tutorials/01_scdcc_pbmc.py --outdir results
	$(PY) tutorials/04_batches_cellbench.py --outdir results

test: setup
	$(PY) -m pytest

test-quick: setup
	$(PY) -m pytest -m "not slow"

benchmark: setup
	mkdir -p results
	$(PY) benchmarks/benchmark.py --methods scdcc,desc --k given,estimated \
		--constraints none,protein --seeds 0,1,2 --jobs 2 --threads 1 \
		--out results/bench_seeds.tsv --markdown

lint: setup
	$(VENV)/bin/pip install --quiet ruff
	$(VENV)/bin/ruff check scdeepclust tests tutorials benchmarks
	$(VENV)/bin/ruff format --check scdeepclust tests tutorials benchmarks
