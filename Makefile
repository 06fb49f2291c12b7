# Optimizer Lab: `make run` starts the app, `make test` runs every check.
.DEFAULT_GOAL := help
.PHONY: help run test bench loadtest lint chromium clean

SHELL   := /bin/bash
PYTHON  ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
PORT    ?= 8501
# a local folder of wheels (the torch CPU build) is used when the machine has one
WHEELS  := $(wildcard /opt/wheels)
PIP     := $(PY) -m pip install --disable-pip-version-check $(if $(WHEELS),--find-links $(WHEELS))
# open a browser tab only on a desktop outside CI
HEADLESS := $(if $(and $(or $(DISPLAY),$(WAYLAND_DISPLAY)),$(if $(CI),,yes)),false,true)
CHROMIUM ?= /usr/bin/chromium
PYTEST_ARGS ?= -n 2 --dist loadgroup -p no:cacheprovider

help:
	@echo "make run    start the app at http://localhost:$(PORT) (creates .venv on first use)"
	@echo "make test   lint + the whole test suite, browser tests included"
	@echo "make bench  time the engine against scikit-learn and PyTorch (writes bench/results.md)"
	@echo "make loadtest  simulate a class on a local server (writes bench/loadtest.md)"
	@echo "make lint   ruff only"
	@echo "make clean  remove .venv, caches and test artifacts"

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.stamp-req: requirements.txt | $(PY)
	$(PIP) -r requirements.txt
	@touch $@

$(VENV)/.stamp-dev: requirements-dev.txt requirements.txt | $(PY)
	$(PIP) -r requirements-dev.txt
	@touch $@ $(VENV)/.stamp-req

# browser.serverAddress: print the local URL instead of looking up this machine's public address;
# a solo user may delete runs (OPTLAB_ALLOW_DELETE=0 make run keeps the store read-only)
run: $(VENV)/.stamp-req
	OPTLAB_ALLOW_DELETE=$${OPTLAB_ALLOW_DELETE:-1} $(VENV)/bin/streamlit run streamlit_app.py --server.port $(PORT) --server.headless $(HEADLESS) \
	  --browser.serverAddress localhost

chromium:
	@if [ ! -x "$(CHROMIUM)" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian's chromium for the browser tests"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -q && apt-get install -y -q chromium; \
	  else \
	    echo "Chromium is missing: run 'sudo apt-get install chromium', then 'make test' again." >&2; \
	    exit 1; \
	  fi; \
	fi

lint: $(VENV)/.stamp-dev
	$(VENV)/bin/ruff check .

# lint and tests both run, so one report shows every problem; either failing fails the target
# (pytest's exit code 5, no test collected, is a failure too)
test: $(VENV)/.stamp-dev chromium
	@rc=0; \
	$(VENV)/bin/ruff check . || rc=1; \
	$(PY) -m pytest $(PYTEST_ARGS) || rc=1; \
	exit $$rc

$(VENV)/.stamp-bench: bench/requirements.txt requirements.txt | $(PY)
	$(PIP) -r requirements.txt -r bench/requirements.txt
	@touch $@ $(VENV)/.stamp-req

# run it on a quiet machine: the contenders are interleaved, but 2 cores shared with anything
# else still make the small-batch figures noisy
bench: $(VENV)/.stamp-bench
	$(PY) -m bench

# students as Streamlit-protocol clients against a server on a free loopback port, with a
# temporary data folder; every wait is bounded and the server is stopped at the end
loadtest: $(VENV)/.stamp-dev
	$(PY) -m bench.loadtest

clean:
	rm -rf $(VENV) .ruff_cache .pytest_cache test-artifacts
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
