# The two commands of the README. Each installs what it needs on a fresh
# machine (virtualenv, packages; the broker's jars on first use) and is
# quick when everything is installed already.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
# The Quix Streams peer of the benchmark has a virtualenv of its own.
QUIX_VENV := .venv-quix
QUIX_STAMP := $(QUIX_VENV)/.installed

.PHONY: demo test bench lint install clean

demo: $(STAMP)
	$(VENV)/bin/spur demo

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(VENV)/bin/pytest

bench: $(STAMP) $(QUIX_STAMP)
	$(VENV)/bin/python -m bench.run

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[worker,dev]'
	touch $(STAMP)

$(QUIX_STAMP): bench/quix-requirements.txt
	test -x $(QUIX_VENV)/bin/python || $(PYTHON) -m venv $(QUIX_VENV)
	$(QUIX_VENV)/bin/pip install --quiet --upgrade pip
	$(QUIX_VENV)/bin/pip install --quiet -r bench/quix-requirements.txt
	touch $(QUIX_STAMP)

clean:
	rm -rf $(VENV) $(QUIX_VENV) .spur .mypy_cache .pytest_cache .ruff_cache
