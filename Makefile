# Everything a fresh machine needs, from nothing but Python >= 3.10 and make.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-dev

.PHONY: demo test bench lint clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

$(VENV)/.installed-bench: $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
	touch $@

demo: $(STAMP)  ## the lectures' examples, end to end; training with progress bars; graph drawings to SVG
	$(PY) examples/lectures.py
	$(PY) examples/training.py
	$(PY) examples/drawing.py

test: $(STAMP)  ## the whole test suite; fails when no test runs
	$(PY) -m pytest

bench: $(VENV)/.installed-bench  ## each engine in its own process, collector on and off (~8 min; BENCH_QUICK=1: under a minute); writes benchmarks/RESULTS.md
	$(PY) benchmarks/run.py

lint: $(STAMP)
	$(PY) -m ruff check autograd nn viz tests benchmarks examples

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .ruff_cache *.egg-info
