# kbsync: `make run` starts the console on the sandbox; `make test` runs every test.
# Both set up .venv from the pinned requirements first; nothing is installed by hand.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

# The browser test drives Debian's Chromium (no browser download: this machine reaches only
# the package registries). `make test` installs it with apt-get when it can.
CHROMIUM := /usr/bin/chromium
# The PostgreSQL tests start a throwaway cluster of their own (tests/support/postgres.py) with
# Debian's PostgreSQL 15 binaries; `make test` installs them with apt-get when it can. The
# package may also start a system cluster on port 5432: harmless, the tests never use it.
PG_INITDB := /usr/lib/postgresql/15/bin/initdb

.PHONY: setup browser postgres run test lint format bench clean

setup: $(INSTALLED)

$(INSTALLED): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(INSTALLED)

# `make run PORT=8600` serves on another port (.streamlit/config.toml's 8501 otherwise).
PORT ?=

run: $(INSTALLED)
	KBSYNC_BACKEND=sandbox $(BIN)/streamlit run app.py $(if $(PORT),--server.port $(PORT))

browser:
	@if [ -x $(CHROMIUM) ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian's chromium for the browser test..."; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-color-emoji \
			>/dev/null; } || echo "Could not install chromium: the browser test will be skipped."; \
	elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then \
		{ sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			chromium fonts-noto-color-emoji >/dev/null; } || echo "Could not install chromium: the browser test will be skipped."; \
	else \
		echo "Chromium is not installed and cannot be installed from here: the browser test will be"; \
		echo "skipped. Install it with: sudo apt-get install chromium   (it must be at $(CHROMIUM))"; \
	fi

postgres:
	@if [ -x $(PG_INITDB) ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian's postgresql for the PostgreSQL tests..."; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql \
			>/dev/null; } || echo "Could not install postgresql: the PostgreSQL tests will be skipped."; \
	elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then \
		{ sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			postgresql >/dev/null; } || echo "Could not install postgresql: the PostgreSQL tests will be skipped."; \
	else \
		echo "PostgreSQL is not installed and cannot be installed from here: the PostgreSQL tests"; \
		echo "will be skipped. Install it with: sudo apt-get install postgresql   (it must be at $(PG_INITDB))"; \
	fi

test: $(INSTALLED) browser postgres
	$(BIN)/ruff check .
	$(BIN)/pytest -n 3 --dist loadfile

lint: $(INSTALLED)
	$(BIN)/ruff check .

format: $(INSTALLED)
	$(BIN)/ruff format .

bench: $(INSTALLED)
	$(BIN)/python bench/bench_core.py
	$(BIN)/python bench/bench_console.py
	$(BIN)/python bench/bench_api.py
	$(BIN)/python bench/bench_runs.py
	$(BIN)/python bench/bench_scheduler.py
	$(BIN)/python bench/bench_end_latency.py
	$(BIN)/python bench/bench_ingestion.py
	$(BIN)/python bench/bench_ingest_upload.py
	$(BIN)/python bench/bench_table_jobs.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
