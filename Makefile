# Everything a fresh machine needs, from nothing but Python >= 3.10 and make.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip install --disable-pip-version-check
STAMP  := $(VENV)/.installed-dev

.PHONY: demo test test-all fuzz docs figures notebooks lab bench lint clean

# pip >= 25.1 draws a progress bar while it installs, the longest silent step before.
$(VENV)/bin/python:
	@echo "==> Creating a virtual environment in $(VENV)/ (Python: $(PYTHON)) with an up-to-date pip"
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade 'pip>=25.1'

# pip's own output is the progress report: a line per package it collects, download bars,
# then a bar over the packages it installs.
$(STAMP): pyproject.toml | $(VENV)/bin/python
	@echo "==> Setup: installing gradtrace and its dependencies (numpy, matplotlib, Jupyter's kernel, scikit-learn,"
	@echo "    pytest, ...) into $(VENV)/. The first time takes a few minutes; later runs skip this step"
	@echo "    until pyproject.toml changes."
	$(PIP) -e '.[dev]'
	@touch $@
	@echo "==> Installed into $(VENV)/"

$(VENV)/.installed-bench: $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
	touch $@

$(VENV)/.installed-all: $(STAMP)
	@echo "==> Setup: installing PyTorch and JAX into $(VENV)/ (the torch and jax extras; PyTorch's wheel is large)"
	$(PIP) -e '.[dev,torch,jax]'
	@touch $@

$(VENV)/.installed-docs: $(STAMP)
	@echo "==> Setup: installing MkDocs and its plugins into $(VENV)/ (the docs extra)"
	$(PIP) -e '.[dev,docs]'
	@touch $@

$(VENV)/.installed-lab: $(STAMP)
	@echo "==> Setup: installing JupyterLab into $(VENV)/ (the first time: a minute or two)"
	$(PIP) -e '.[dev,lab]'
	@touch $@

demo: $(STAMP)  ## the lectures' examples, end to end; training with progress bars; graph drawings to SVG in out/
	$(PY) examples/lectures.py
	$(PY) examples/training.py
	$(PY) examples/drawing.py
	@echo ""
	@echo "Next: make lab (the notebooks in JupyterLab), or make docs and open site/index.html (the manual)"

docs: $(VENV)/.installed-docs  ## the manual as a website in site/ (strict: a warning fails the build); open site/index.html, no server needed
	@echo "==> Building the manual, the notebooks and the API reference into site/ (MkDocs; about 20 s)"
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --quiet
	@echo "==> The manual: site/index.html (open it in a web browser; it needs no server and no internet)"

test: $(STAMP)  ## the whole test suite; fails when no test runs (the PyTorch and JAX tests skip: see test-all)
	$(PY) -m pytest

test-all: $(VENV)/.installed-all  ## the whole test suite with PyTorch and JAX installed, so that their tests run too
	$(PY) -m pytest

N    ?= 1000
SEED ?= 0
fuzz: $(STAMP)  ## the differential fuzzer: N random programs (seeded by SEED) compiled and compared with eager; EXCLUDE=feature,... leaves some out
	$(PY) tests/fuzz_compile.py -n $(N) --seed $(SEED) $(if $(EXCLUDE),--exclude $(EXCLUDE))

figures: $(STAMP)  ## regenerate the README's pictures in docs/figures/
	$(PY) tools/figures.py

notebooks: $(STAMP)  ## make the Korean edition from its translations, then re-execute every notebook (notebooks/, notebooks/ko/) in place
	$(PY) tools/translate_notebooks.py
	$(PY) tools/notebooks.py

lab: $(VENV)/.installed-lab  ## open the notebooks in JupyterLab (installed into .venv on first use)
	$(VENV)/bin/jupyter lab notebooks/

bench: $(VENV)/.installed-bench  ## each engine in its own process, collector on and off (~12 min; BENCH_QUICK=1: ~1 min; BENCH_ARGS='--workloads training --repeats 5' and so on); writes benchmarks/RESULTS.md
	$(PY) benchmarks/run.py $(BENCH_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check autograd nn viz tests benchmarks examples tools course _gradtrace.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .ruff_cache *.egg-info site .cache
