# Everything a new machine needs is done by these targets; `make demo` and `make test` are the
# two commands of the README's quickstart.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The demo deployment: a dbt project that installs this package (packages.yml, `local: ../`).
PROJECT := $(CURDIR)/integration_tests
export SESSION_BACKUP_PROJECT_DIR := $(PROJECT)
export DBT_PROFILES_DIR := $(CURDIR)
export DBT_SEND_ANONYMOUS_USAGE_STATS := false

.PHONY: setup demo test test-fast bench lint docs clean

# Tests run on three workers that take work from each other (worksteal): on two cores a third
# worker fills the time the others wait on emulators, subprocesses and lock timeouts (a
# fresh-clone make test: 15.6 min on two workers, 14.6 on three). A module's emulators start
# once per worker that runs its tests, on free ports. The 15 slowest tests are listed.
TEST_WORKERS ?= 3

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

profiles.yml: profiles.example.yml
	cp profiles.example.yml profiles.yml

$(PROJECT)/dbt_packages/session_backup: $(STAMP) $(PROJECT)/packages.yml
	cd $(PROJECT) && $(CURDIR)/$(BIN)/dbt deps --quiet

setup: $(STAMP) profiles.yml $(PROJECT)/dbt_packages/session_backup

demo: setup
	$(BIN)/python scripts/demo.py

test: setup lint
	$(BIN)/session-backup generate --check
	$(BIN)/dbt parse --quiet --target bigquery --project-dir $(PROJECT)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal --durations=15

# Tests without dbt runs or emulators (declarations, generate, the CLI, estimate, the posts).
test-fast: setup
	$(BIN)/python -m pytest -m fast -q

# The estimate is derived from the bench results, so it is rebuilt with them (a test checks it is current).
bench: setup
	$(BIN)/python scripts/bench.py
	$(MAKE) estimate

lint: setup
	$(BIN)/ruff check src scripts tests tools
	$(BIN)/ruff format --check src scripts tests tools

docs: setup
	$(BIN)/python scripts/demo.py --no-summary
	$(BIN)/dbt docs generate --project-dir $(PROJECT)

clean:
	rm -rf $(VENV) target logs data profiles.yml $(PROJECT)/target $(PROJECT)/logs $(PROJECT)/data $(PROJECT)/dbt_packages

.PHONY: estimate diagrams

# The 2-year cost estimate per strategy (docs/estimate/), from docs/bench/results.json and prices.toml.
estimate: setup
	mkdir -p docs/estimate
	$(BIN)/session-backup estimate --bench docs/bench/results.json --json --plot docs/estimate/cumulative_cost.png > docs/estimate/estimate.json.new
	$(BIN)/session-backup estimate --bench docs/bench/results.json > docs/estimate/estimate.md.new
	mv docs/estimate/estimate.json.new docs/estimate/estimate.json
	mv docs/estimate/estimate.md.new docs/estimate/estimate.md

# The drawn architecture (docs/architecture/*.svg, *.png).
diagrams: setup
	$(BIN)/python scripts/draw_architecture.py --out docs/architecture
