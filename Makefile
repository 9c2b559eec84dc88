# The two commands of the README: `make demo` and `make test`.
# Everything they need is installed here, into .venv, from the package registries.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# The demo keeps its data (database, logs, frames, movie, outbox) in ./storm-data.
demo: setup
	STORM_HOME=$${STORM_HOME:-$(CURDIR)/storm-data} \
	STORM_MAIL_OUTBOX=$${STORM_MAIL_OUTBOX:-$(CURDIR)/storm-data/outbox} \
	$(BIN)/storm run examples/render_pipeline.yaml

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -q

bench: setup
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
