# The two commands of the README: `make demo` and `make test`.
# Everything they need is installed here, into .venv, from the package registries.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint bench clean browser ui

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

# Debian's Chromium for the web UI's end-to-end tests (Playwright drives /usr/bin/chromium;
# it never downloads a browser of its own). Installed when missing and we may use apt.
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null; \
	  else echo "no /usr/bin/chromium: the UI tests will skip (and fail under CI=true)"; fi; \
	fi

test: lint browser
	$(BIN)/pytest -q

# Rebuild the web UI from ui/ into src/stormflow/web/static (the build is committed,
# so neither `make demo` nor `make test` needs npm).
ui:
	cd ui && npm ci --no-audit --no-fund && npm run build

bench: setup
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
