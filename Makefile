# QLink developer entry points. Everything runs from a clean clone with only Python 3.11+.
SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && echo $$p && break; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.qlink-installed

.PHONY: setup demo test lint typecheck pytest clean

$(STAMP): requirements.lock pyproject.toml
	@test -n "$(PYTHON)" || { echo "QLink needs Python 3.11 or newer on PATH"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/qlink demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: setup
	$(BIN)/mypy core db

# pytest exits 5 when it collected nothing: that is a broken suite, not a pass. Tests run in
# parallel processes (pytest-xdist), each with its own fresh databases; PYTEST_WORKERS=0 runs
# them in this process.
PYTEST_WORKERS ?= auto
# Tests marked `serial` (a module whose tests build on one shared clinic in order) run afterwards
# in one process; a selection without any is fine.
pytest: setup
	@$(BIN)/pytest -n $(PYTEST_WORKERS) -m "not serial" $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; \
	[ $$rc -eq 0 ] || exit $$rc; \
	$(BIN)/pytest -n 0 -m serial $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then exit 0; fi; exit $$rc

test: lint typecheck pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
