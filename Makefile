# ailogs — every command a developer or CI needs. `make test` works on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test lint run demo bench migrate clean

$(STAMP): pyproject.toml hatch_build.py src/ailogs/analysis/_shapekey.c src/ailogs/_answer_rows.c
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks hatch_build.py
	$(BIN)/ruff format --check src tests benchmarks hatch_build.py
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks hatch_build.py
	$(BIN)/ruff format --check src tests benchmarks hatch_build.py
	$(BIN)/mypy
	$(BIN)/lint-imports

run: $(STAMP)
	$(BIN)/ailogs serve --host 127.0.0.1 --port 8000

demo: $(STAMP)
	$(BIN)/ailogs analyze examples/incident.jsonl --incident-start 2026-11-20T10:05:00Z

migrate: $(STAMP)
	$(BIN)/ailogs migrate

bench: $(STAMP)
	$(BIN)/python -m pytest benchmarks -p no:cacheprovider -q --benchmark-columns=min,median,max,ops --benchmark-sort=name

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
