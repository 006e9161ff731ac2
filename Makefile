# The two commands of the quickstart: `make run` and `make test`.
# Every install goes through constraints.txt: the exact botocore (and clients) the API coverage is
# generated from, and the uvicorn and httptools that openprofiles/http_protocol.py builds on.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt

.PHONY: run test lint coverage-doc bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) -e '.[test]'
	touch $@

run: $(VENV)/.installed
	$(BIN)/openprofiles serve

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/mypy

test: $(VENV)/.installed-test
	bash scripts/system-deps.sh
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest $(PYTEST_ARGS)

coverage-doc: $(VENV)/.installed
	$(BIN)/python -m openprofiles.coverage > docs/api-coverage.md

bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/get_domain.py
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/search.py
	$(BIN)/python benchmarks/put_profile_object.py
	$(BIN)/python benchmarks/flow.py
	$(BIN)/python benchmarks/connectors.py

clean:
	rm -rf $(VENV) .openprofiles .pytest_cache .mypy_cache .ruff_cache
