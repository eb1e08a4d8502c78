# Everything a new machine needs is done by these targets; `make demo` and `make test` are the
# two commands of the README's quickstart.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export SESSION_BACKUP_PROJECT_DIR := $(CURDIR)
export DBT_PROFILES_DIR := $(CURDIR)
export DBT_SEND_ANONYMOUS_USAGE_STATS := false

.PHONY: setup demo test test-fast bench lint docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

profiles.yml: profiles.example.yml
	cp profiles.example.yml profiles.yml

setup: $(STAMP) profiles.yml

demo: setup
	$(BIN)/python scripts/demo.py

test: setup
	$(BIN)/session-backup generate --check
	$(BIN)/dbt parse --quiet --target bigquery
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python scripts/bench.py

lint: setup
	$(BIN)/ruff check src scripts tests

docs: setup
	$(BIN)/python scripts/demo.py --no-summary
	$(BIN)/dbt docs generate

clean:
	rm -rf $(VENV) target logs data profiles.yml
