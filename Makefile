# kbsync: `make run` starts the console on the sandbox; `make test` runs every test.
# Both set up .venv from the pinned requirements first; nothing is installed by hand.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: setup run test lint format bench clean

setup: $(INSTALLED)

$(INSTALLED): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(INSTALLED)

run: $(INSTALLED)
	KBSYNC_BACKEND=sandbox $(BIN)/streamlit run app.py

test: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/pytest

lint: $(INSTALLED)
	$(BIN)/ruff check .

format: $(INSTALLED)
	$(BIN)/ruff format .

bench: $(INSTALLED)
	$(BIN)/python bench/bench_core.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
