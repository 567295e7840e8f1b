# pinoloft: `make setup` then `make test`. Targets share names with folders (ingest, exporters, …), hence .PHONY.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# The one front door: every stage below is a `pinoloft` subcommand (global options before the subcommand).
PINOLOFT := $(VENV)/bin/pinoloft
PYTEST_ARGS ?=

PINOLO_OUTPUT ?= examples/pinolo-output
WAREHOUSE ?= data/warehouse.duckdb
DATASET ?=
DATASETS_DIR ?= datasets
QUIET ?=
TARGET ?= mariadb
MODEL ?=
EPOCHS ?=
RECIPE ?=
PREVIEW ?=
FORMATS ?=
SUFFIX ?=
SUBMIT ?=
MODELS ?= reference identity
LIMIT ?=
DSN ?=
ALL ?=
JOBS ?= 1
REPEATS ?= 3
BACKEND ?= openai
BASE_MODEL ?=
LORA_R ?=
MERGE ?=
MODEL_DIR ?=
PORT ?= 8000
SERVE_NAME ?=
RUN := $(PINOLOFT) $(QUIET) --warehouse $(WAREHOUSE)

.PHONY: help setup system-packages venv test demo ingest check transform validate export train serve experiments \
	evaluate docs sample server-start server-stop bench-mutations bench-generate bench-ingest bench-transform bench-export bench-validation bench-pipeline clean

# A bare `make` lists the targets: each documented by the `## …` at the end of its line.
.DEFAULT_GOAL := help
help:
	@echo "pinoloft: PINOLO fuzzer output -> validated, balanced fine-tuning data. Start with: make setup, make demo"
	@awk -F':.*## ' '/^[a-z][a-z-]*:.*## / {printf "  make %-17s %s\n", $$1, $$2}' $(firstword $(MAKEFILE_LIST))

setup: system-packages venv  ## install everything: Debian packages (MariaDB, Chromium) and .venv

# Debian packages the later stages and their tests need (MariaDB server for validation; Chromium, run headless, for
# the evaluation report's page tests). Each is installed only when missing; chromium needs no recommends headless.
system-packages:
	@PACKAGES=; \
	command -v mariadbd >/dev/null 2>&1 || PACKAGES="$$PACKAGES mariadb-server mariadb-client"; \
	command -v chromium >/dev/null 2>&1 || PACKAGES="$$PACKAGES chromium"; \
	if [ -n "$$PACKAGES" ] && command -v apt-get >/dev/null 2>&1; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$PACKAGES >/dev/null; \
	fi

venv:
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	@# setuptools tells every editable install of a flat layout to mind same-named folders (a UserWarning of
	@# the build backend): that is this repository's layout on purpose, so the notice is silenced.
	PYTHONWARNINGS=ignore::UserWarning $(PIP) install -q -e '.[dev,local]'

test:  ## run the test suite
	$(PY) -m pytest $(PYTEST_ARGS)

# PINOLO output -> raw schema (incremental; one transaction per run).
ingest:  ## PINOLO files (PINOLO_OUTPUT=DIR) into the warehouse's raw schema
	$(RUN) ingest --root $(PINOLO_OUTPUT)

# Mutation verdicts for every distinct pair not yet judged.
check:  ## mutation verdicts for pairs not judged yet
	$(RUN) check

# Verdicts, dataset configs and synthetic top-ups, then dbt: staging -> intermediate -> marts (+ tests).
transform:  ## check, dataset configs, synthetic top-ups, then dbt build
	$(RUN) transform --datasets-dir $(DATASETS_DIR)

# Every pair in scope run on TARGET (a throwaway MariaDB in data/mariadb/ unless PINOLOFT_DSN or DSN=
# mysql://admin:password@host:port is given), logged to raw.validation_runs; then dbt joins the logs into the
# marts and report.md is written (only dbt runs again: verdicts, dataset configs and top-ups do not change by
# validating).
# Scope: DATASET=<name>, ALL=1 (every deduplicated pair), or every dataset's candidates. Resumable.
validate:  ## run pairs on a real server (TARGET=, DATASET= | ALL=1, JOBS=, REPEATS=; PINOLOFT_DSN in the environment)

# The DSN carries a password, so it is only ever read with $(value DSN): make never expands it (a `$(shell …)` in
# it runs nothing) and no shell line holds it (quotes, `;`, `$`, backquotes, backslashes and spaces arrive
# intact and run nothing). It reaches the CLI as PINOLOFT_DSN in the recipe's environment, never in argv, and
# DSN itself is not exported (make would expand it to export it). `PINOLOFT_DSN='mysql://…' make validate`
# keeps the password out of make's own argv as well (PINOLOFT_READER_DSN likewise, for a read-only account).
unexport DSN
ifneq ($(value DSN),)
validate: export PINOLOFT_DSN = $(value DSN)
endif
validate:
	@echo "validating on $(TARGET)$(if $(value DSN)$(value PINOLOFT_DSN)$(value PINOLOFT_READER_DSN), (server from DSN), (throwaway MariaDB in data/mariadb))"
	@$(RUN) validate --target $(TARGET) --jobs $(JOBS) --repeats $(REPEATS) \
		$(if $(ALL),--all,$(if $(DATASET),--dataset $(DATASET)))

server-start:  ## start the throwaway MariaDB in data/mariadb/
	$(PINOLOFT) server start

server-stop:  ## stop it
	$(PINOLOFT) server stop

# The selected dataset(s) as chat JSONL + meta + report (reads the warehouse read-only); all without DATASET.
# FORMATS="hf llamafactory axolotl vertex" (or all) also writes the files other trainers and services read.
export:  ## a dataset's JSONL files, sidecars and report (DATASET=NAME; FORMATS="hf llamafactory axolotl vertex")
	$(RUN) export $(if $(DATASET),--dataset $(DATASET)) $(foreach format,$(FORMATS),--format $(format))

# A fine-tuning job on the exported dataset: a dry run (check, cost, plan) unless SUBMIT=1. The export is made
# first when it is missing (from PINOLO_OUTPUT, the bundled sample by default). BACKEND=local: LoRA on a local
# model folder, from RECIPE=finetune/recipes/<file>.yml and/or BASE_MODEL=DIR (flags override the recipe); its
# dry run renders every example with the model's own tokenizer (PREVIEW=N shows N), SUBMIT=1 trains (a rerun
# resumes from the last checkpoint).
train:  ## fine-tuning: a dry run, or SUBMIT=1; BACKEND=local RECIPE=FILE (or BASE_MODEL=DIR) for LoRA
	@test -n "$(DATASET)$(RECIPE)" || { echo "make train needs DATASET=<name> (e.g. DATASET=demo), or RECIPE=<file> with BACKEND=local"; exit 2; }
	@test "$(BACKEND)" != local -o -n "$(BASE_MODEL)$(RECIPE)" || { echo "make train BACKEND=local needs RECIPE=<finetune/recipes/…yml> or BASE_MODEL=<local model folder>"; exit 2; }
	@test -z "$(DATASET)" || $(PINOLOFT) --quiet datasets --dir $(DATASETS_DIR) --require $(DATASET)
	@test -z "$(DATASET)" -o -f data/exports/$(DATASET)/train.jsonl || $(MAKE) --no-print-directory ingest transform export
	$(RUN) train --backend $(BACKEND) $(if $(DATASET),--dataset $(DATASET)) $(if $(RECIPE),--recipe $(RECIPE)) \
		$(if $(EPOCHS),--epochs $(EPOCHS)) $(if $(MODEL),--model $(MODEL)) $(if $(SUFFIX),--suffix $(SUFFIX)) \
		$(if $(SUBMIT),--submit) $(if $(PREVIEW),--preview $(PREVIEW)) $(if $(BASE_MODEL),--base-model $(BASE_MODEL)) \
		$(if $(LORA_R),--lora-r $(LORA_R)) $(if $(MERGE),--merge)

# An OpenAI-compatible server on 127.0.0.1:PORT for a LoRA adapter or merged model folder (vLLM when installed
# with a GPU, else transformers): then OPENAI_BASE_URL=http://127.0.0.1:PORT/v1 OPENAI_API_KEY=x make evaluate
# (or let make evaluate serve it for the run: MODELS="tuned=local:<job>").
# An API key is read from the environment, never from a make or command-line argument (visible in ps):
# PINOLOFT_SERVE_API_KEY=<key> make serve …, or SERVE_API_KEY_FILE=<file>; clients then send OPENAI_API_KEY=<key>.
# SERVE_HOST=0.0.0.0 exposes it beyond this machine (a warning, louder without a key).
serve:  ## an OpenAI-compatible server for a local model (MODEL_DIR=DIR)
	@test -n "$(MODEL_DIR)" || { echo "make serve needs MODEL_DIR=<adapter or model folder> (e.g. data/finetune/local/<job>/adapter)"; exit 2; }
	$(PINOLOFT) $(QUIET) serve --model-dir $(MODEL_DIR) --port $(PORT) $(if $(SERVE_NAME),--name $(SERVE_NAME)) \
		$(if $(SERVE_HOST),--host $(SERVE_HOST)) $(if $(SERVE_API_KEY_FILE),--api-key-file $(SERVE_API_KEY_FILE))

# Mutators side by side on the dataset's test split: MODELS="reference identity base=gpt-4o-mini-2024-07-18
# Mutators side by side on the dataset's test split: MODELS="reference identity base=gpt-4o-mini-2024-07-18
# ft=ft:… job:ftjob-…", or open models that evaluate serves itself for the run and stops:
# MODELS="base=<model folder> tuned=local:<local job id>"; writes data/reports/<dataset>/evaluation.html and .md.
evaluate:  ## mutators side by side on a dataset's test split (DATASET=, MODELS=)
	@test -n "$(DATASET)" || { echo "make evaluate needs DATASET=<name> (e.g. DATASET=demo)"; exit 2; }
	@$(PINOLOFT) --quiet datasets --dir $(DATASETS_DIR) --require $(DATASET)
	@test -f data/exports/$(DATASET)/test.jsonl || $(MAKE) --no-print-directory ingest transform export
	$(RUN) evaluate --dataset $(DATASET) --models "$(MODELS)" \
		$(if $(LIMIT),--limit $(LIMIT))

# Every finetune/experiments/*.yml: planned (dry run) unless SUBMIT=1, then compared.
experiments:  ## plan (or SUBMIT=1) every finetune/experiments/*.yml, then compare
	$(RUN) experiments $(if $(SUBMIT),--submit)

docs:  ## the dbt docs as one static page that opens from disk
	$(RUN) docs

# The main job on the bundled sample.
# Validation runs when Debian's MariaDB server is installed (`make setup` installs it); otherwise it says so.
demo:  ## the main job on the bundled sample: ingest, transform, validate, export
	$(MAKE) --no-print-directory ingest transform PINOLO_OUTPUT=examples/pinolo-output DATASET=demo
	@if $(PY) -c 'import sys, validation; sys.exit(validation.mariadb_binaries() is None)'; then \
		$(MAKE) --no-print-directory validate DATASET=demo TARGET=mariadb; \
	else \
		echo "validation skipped: the MariaDB server (mariadbd, mariadb-install-db) is not installed; run make setup"; \
	fi
	$(MAKE) --no-print-directory export DATASET=demo
	@echo "warehouse: $(WAREHOUSE)   exports: data/exports/demo/   report: data/exports/demo/report.md$$(test -f data/validation/mariadb/report.md && echo '   validation: data/validation/mariadb/report.md')"

sample:  ## regenerate examples/pinolo-output/
	$(PINOLOFT) generate --root examples/pinolo-output --runs 2 --dbms mysql,mariadb --tasks 3 --queries 12 --seed 20261124 --faults 0.05

bench-mutations:  ## benchmark: mutation checks per second
	$(PY) bench/mutations_check.py

bench-generate:  ## benchmark: generator files per second
	$(PY) bench/generate.py

bench-ingest:  ## benchmark: ingest against reading the files
	$(PY) bench/ingest.py

bench-transform:  ## benchmark: dbt transform against a bare DISTINCT
	$(PY) bench/transform.py

bench-export:  ## benchmark: export and check of 100,000 examples
	$(PY) bench/export.py

bench-validation:  ## benchmark: the runner against a bare pymysql loop, and peak RSS under the row cap
	$(PY) bench/validation.py
	$(PY) bench/validation_memory.py

bench-pipeline:  ## benchmark: 200,000 reports through every stage, each against its floor
	$(PY) bench/pipeline.py

clean:  ## remove .venv and build leftovers
	rm -rf $(VENV) build *.egg-info .pytest_cache dbt_project/target dbt_project/logs
