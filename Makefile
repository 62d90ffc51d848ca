# The two README commands: `make demo` and `make test` (each sets up .venv first).
VENV ?= .venv
PY := $(VENV)/bin/python
UV_INSTALL := $(VENV)/bin/uv pip install --quiet --python $(PY)
# Datasets are read from here instead of being downloaded (no network on CI machines).
export SCDEEPCLUST_DATASETDIR ?= $(abspath ../shared/data)

.PHONY: setup demo test test-quick docs dist benchmark benchmark-batches benchmark-scaling \
	benchmark-timing benchmark-authors lint

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	# CPU build of torch first, with pip (a bare `torch` requirement would pull GBs of CUDA
	# wheels); then the rest with uv, which installs the same packages in seconds.
	$(VENV)/bin/pip install --quiet torch==2.13.0 uv
	$(UV_INSTALL) -e ".[test,tutorials]"
	touch $@

# Executes the PBMC tutorial (results/pbmc_scdcc.h5ad, results/pbmc_scdcc_umap.png) and the
# CellBench batches tutorial; the executed notebooks are written to results/ too.
demo: setup
	$(PY) tutorials/run_notebooks.py --outdir results 01_scdcc_pbmc 04_batches_cellbench

test: setup
	$(PY) -m pytest

test-quick: setup
	$(PY) -m pytest -m "not slow"

# The documentation site, warnings as errors: open docs/_build/html/index.html.
docs: setup
	$(UV_INSTALL) -e ".[doc]"
	$(VENV)/bin/sphinx-build -W --keep-going -b html docs docs/_build/html

# Wheel and sdist in dist/, checked by twine.
dist: setup
	$(UV_INSTALL) build twine
	rm -rf dist
	$(PY) -m build --outdir dist
	$(VENV)/bin/twine check --strict dist/*

# The benchmark suite (benchmarks/, `python -m benchmarks.<name>`): one target per table, each
# writing into results/benchmarks/<name>/. `make benchmark` is the quality table of the docs.
BENCH := results/benchmarks
# A checkout of https://github.com/ttgump/scDCC, for benchmark-authors.
SCDCC_REF ?= ../scDCC

benchmark: setup
	$(PY) -m benchmarks.quality --methods scdcc,desc --k given,estimated \
		--constraints none,protein --seeds 0,1,2 --jobs 2 --threads 1 \
		--out $(BENCH)/quality/bench_seeds.tsv --markdown

benchmark-batches: setup
	$(PY) -m benchmarks.batches --seeds 0,1,2 --markdown --out $(BENCH)/batches/batches.tsv

benchmark-scaling: setup
	$(PY) -m benchmarks.scaling --sizes 10000,30000,100000,300000 \
		--out $(BENCH)/scaling/scaling.tsv --plot $(BENCH)/scaling/scaling.png \
		--cache $(BENCH)/scaling/cache

benchmark-timing: setup
	$(PY) -m benchmarks.timing --threads 2 --precision float32,bfloat16 \
		--out $(BENCH)/timing/timing.txt

benchmark-authors: setup
	$(PY) -m benchmarks.authors --ref-dir $(SCDCC_REF) --datasets bladder,cite,pbmc,worm \
		--seeds 0,1,2 --threads 2 --out $(BENCH)/authors/authors.tsv

lint: setup
	$(UV_INSTALL) ruff
	$(VENV)/bin/ruff check scdeepclust tests tutorials benchmarks docs
	$(VENV)/bin/ruff format --check scdeepclust tests tutorials benchmarks docs
