# sgz — make demo / make test are the whole Quick start (README.md).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast bench lint templates docs clean-demo

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

# Runs the main job on the embedded default station in ./vault and ./indexes.
demo: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/demo.sh

# The full test suite, including the slow (2 GiB) and tool-dependent tests that CI runs.
test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not slow"

bench: $(STAMP)
	@for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

lint: $(STAMP)
	$(BIN)/ruff check archive tests bench
	$(BIN)/mypy archive

templates: $(STAMP)
	$(BIN)/python -m archive.docgen.build

# docs/cli.md from every command's --help (tests/test_docs.py fails when it is stale).
docs: $(STAMP)
	$(BIN)/python -m archive.cli.docs

clean-demo:
	rm -rf vault/[!R]* indexes/[!R]* station.toml demo-out
