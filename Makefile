# pinoloft: `make setup` then `make test`. Targets share names with folders, hence .PHONY.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PYTEST_ARGS ?=

.PHONY: setup system-packages venv test demo sample bench-mutations bench-generate clean

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

# The main job on the bundled sample: every pair of the PINOLO tree, judged by the mutation engine.
demo:
	@mkdir -p data/demo
	$(PY) -m mutations pairs --root examples/pinolo-output --output data/demo/pairs.jsonl
	$(PY) -m mutations check --input data/demo/pairs.jsonl --output data/demo/verdicts.jsonl
	@echo "verdicts: data/demo/verdicts.jsonl"

sample:
	rm -rf examples/pinolo-output
	$(PY) -m mutations generate --root examples/pinolo-output --runs 2 --dbms mysql,mariadb --tasks 3 --queries 12 --seed 20261124 --faults 0.05

bench-mutations:
	$(PY) bench/mutations_check.py

bench-generate:
	$(PY) bench/generate.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
