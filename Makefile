# Sekisho — the README's first two commands.
#   make run    create .venv, install, migrate, load the demo once, serve http://127.0.0.1:8000
#   make test   lint, types, migrations check, the whole suite on SQLite and (alongside) on PostgreSQL when it answers
#   make bench  every benchmark in bench/ (figures as ratios against a baseline of the same run)

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
# Reinstall when the project definition changes.
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev
TEST_DATA ?= $(CURDIR)/var/test

.PHONY: run test bench lint typecheck migrations-check pytest-sqlite pytest-postgres browser clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Sekisho needs Python 3.11"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP_DEV): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(STAMP_RUN)

run: $(STAMP_RUN)
	$(BIN)/sekisho migrate --verbosity 0
	$(BIN)/sekisho demo
	# Plain HTTP on loopback only: the one place where cookies may go without the Secure flag.
	SEKISHO_SECURE_COOKIES=0 $(BIN)/sekisho serve --host 127.0.0.1 --port 8000

lint: $(STAMP_DEV)
	$(BIN)/ruff check src tests scripts
	$(BIN)/ruff format --check src tests scripts

typecheck: $(STAMP_DEV)
	SEKISHO_DATA_DIR=$(TEST_DATA) $(BIN)/mypy

migrations-check: $(STAMP_DEV)
	env -u DATABASE_URL SEKISHO_DATA_DIR=$(TEST_DATA) $(BIN)/sekisho makemigrations --check --dry-run

browser:
	bash scripts/ensure-test-tools

pytest-sqlite: $(STAMP_DEV) browser
	@echo "== pytest on SQLite =="
	env -u DATABASE_URL SEKISHO_DATA_DIR=$(TEST_DATA)/sqlite $(BIN)/pytest

pytest-postgres: $(STAMP_DEV) browser
	@url="$$($(BIN)/python scripts/postgres_url.py)"; \
	if [ -z "$$url" ]; then \
	  echo "== PostgreSQL not configured and not answering on 127.0.0.1:5432: PostgreSQL run SKIPPED =="; \
	else \
	  echo "== pytest on PostgreSQL ($$url) =="; \
	  DATABASE_URL="$$url" SEKISHO_DATA_DIR=$(TEST_DATA)/postgres $(BIN)/pytest; \
	fi

# The two database passes run side by side (one per core); each one's output is printed whole when it ends.
test: lint typecheck migrations-check
	@$(MAKE) --no-print-directory -j2 --output-sync=target pytest-sqlite pytest-postgres

# Benchmarks are scripts bench/bench_*.py; each prints its figures and exits non-zero only if it breaks.
# Every script runs (a failing one does not stop the others); scripts/bench_table.py passes their output on,
# then prints one table of every figure with its goal and ratio, and the machine's limits measured in the same
# run; it exits non-zero when a script failed.
bench: $(STAMP_DEV) browser
	@for f in bench/bench_*.py; do echo "== $$f (SQLite) =="; \
	  env -u DATABASE_URL SEKISHO_DATA_DIR=$(TEST_DATA)/bench $(BIN)/python $$f; echo "BENCH-EXIT|$$f|SQLite|$$?"; \
	  url="$$($(BIN)/python scripts/postgres_url.py)"; \
	  if [ -n "$$url" ]; then echo "== $$f (PostgreSQL) =="; \
	    DATABASE_URL="$$url" SEKISHO_DATA_DIR=$(TEST_DATA)/bench $(BIN)/python $$f; \
	    echo "BENCH-EXIT|$$f|PostgreSQL|$$?"; fi; done 2>&1 \
	| $(BIN)/python scripts/bench_table.py --markdown $(TEST_DATA)/bench/table.md --limits-dir $(TEST_DATA)/bench

clean:
	rm -rf $(VENV) var/test .pytest_cache .mypy_cache .ruff_cache
