# pinoloft: `make setup` then `make test`. Targets share names with folders (ingest, exporters, …), hence .PHONY.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
DBT := $(VENV)/bin/dbt
PYTEST_ARGS ?=

PINOLO_OUTPUT ?= examples/pinolo-output
WAREHOUSE ?= data/warehouse.duckdb
DATASET ?=
DATASETS_DIR ?= datasets
QUIET ?=
# dbt must not phone home: there is no network at run time.
DBT_ENV := PINOLOFT_WAREHOUSE=$(abspath $(WAREHOUSE)) DBT_SEND_ANONYMOUS_USAGE_STATS=False DBT_NO_VERSION_CHECK=True

.PHONY: setup system-packages venv test demo ingest check transform export docs sample \
	bench-mutations bench-generate bench-ingest bench-transform bench-export clean

setup: system-packages venv

# Debian packages the later stages and their tests need (MariaDB server for validation).
system-packages:
	@if command -v apt-get >/dev/null 2>&1 && ! command -v mariadbd >/dev/null 2>&1; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends mariadb-server mariadb-client >/dev/null; \
	fi

venv:
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[dev]'

test:
	$(PY) -m pytest $(PYTEST_ARGS)

# PINOLO output -> raw schema (incremental; one transaction per run).
ingest:
	$(PY) -m ingest $(QUIET) load --root $(PINOLO_OUTPUT) --warehouse $(WAREHOUSE)

# Mutation verdicts for every distinct pair not yet judged.
check:
	$(PY) -m ingest $(QUIET) check --warehouse $(WAREHOUSE)

# Verdicts, dataset configs and synthetic top-ups, then dbt: staging -> intermediate -> marts (+ tests).
transform: check
	$(PY) -m ingest $(QUIET) datasets --warehouse $(WAREHOUSE) --dir $(DATASETS_DIR)
	$(PY) -m ingest $(QUIET) synthesize --warehouse $(WAREHOUSE)
	$(DBT_ENV) $(DBT) build --project-dir dbt_project --profiles-dir dbt_project --quiet

# The selected dataset(s) as chat JSONL + meta + report (reads the warehouse read-only); all without DATASET.
export:
	$(PY) -m exporters $(QUIET) export $(if $(DATASET),--dataset $(DATASET)) --warehouse $(WAREHOUSE)

docs:
	$(DBT_ENV) $(DBT) docs generate --project-dir dbt_project --profiles-dir dbt_project

# The main job on the bundled sample.
demo:
	$(MAKE) --no-print-directory ingest transform export PINOLO_OUTPUT=examples/pinolo-output DATASET=demo
	@echo "warehouse: $(WAREHOUSE)   exports: data/exports/demo/   report: data/exports/demo/report.md"

sample:
	$(PY) -m mutations generate --root examples/pinolo-output --runs 2 --dbms mysql,mariadb --tasks 3 --queries 12 --seed 20261124 --faults 0.05

bench-mutations:
	$(PY) bench/mutations_check.py

bench-generate:
	$(PY) bench/generate.py

bench-ingest:
	$(PY) bench/ingest.py

bench-transform:
	$(PY) bench/transform.py

bench-export:
	$(PY) bench/export.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache dbt_project/target dbt_project/logs
