# The two commands of the README: `make demo` and `make test`.
# Everything they need is installed here, into .venv (and ui/node_modules for the UI's
# unit tests), from the package registries.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

UI_STAMP := ui/node_modules/.installed
NPM := $(shell command -v npm 2>/dev/null)

BLENDER_STAMP := $(VENV)/.blender

.PHONY: setup demo test lint bench clean browser ui ui-test blender

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# The demo keeps its data (database, logs, frames, movie, outbox) in ./storm-data.
demo: setup
	STORM_HOME=$${STORM_HOME:-$(CURDIR)/storm-data} \
	$(BIN)/storm run examples/render_pipeline.yaml

lint: setup
	$(BIN)/ruff check src tests bench integrations
	$(BIN)/ruff format --check src tests bench integrations
	$(BIN)/mypy

# Blender as a Python module (the `blender` extra: bpy 4.5 LTS, ~370 MB) for the real renders
# of examples/blender_render.yaml and the add-on's tests inside Blender. Its library needs the
# X11/GL client libraries even headless (no display is opened): installed when missing and we
# may use apt.
BLENDER_DEBS := libx11-6 libxext6 libxrender1 libxfixes3 libxi6 libxkbcommon0 libsm6 libice6 libgl1
BLENDER_LIBS := libX11.so.6 libXext.so.6 libXrender.so.1 libXfixes.so.3 libXi.so.6 \
	libxkbcommon.so.0 libSM.so.6 libICE.so.6 libGL.so.1

$(BLENDER_STAMP): $(STAMP)
	@missing=""; for lib in $(BLENDER_LIBS); do \
	  ldconfig -p | grep -q "$$lib" || missing="$$missing $$lib"; done; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BLENDER_DEBS)) >/dev/null; \
	fi; \
	$(BIN)/python -m pip install -q -e '.[dev,blender]' \
	  && $(BIN)/python -c "import bpy; print('bpy', bpy.app.version_string)" \
	  && touch $(BLENDER_STAMP) && exit 0; \
	echo "bpy does not import (missing libs:$${missing:- none}; Debian: apt-get install $(BLENDER_DEBS))" >&2; \
	if [ "$${CI:-}" = true ]; then exit 1; fi; \
	echo "the Blender tests skip (and fail under CI=true)"

blender: $(BLENDER_STAMP)

# Debian's Chromium for the web UI's end-to-end tests (Playwright drives /usr/bin/chromium;
# it never downloads a browser of its own). Installed when missing and we may use apt.
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null; \
	  else echo "no /usr/bin/chromium: the UI tests will skip (and fail under CI=true)"; fi; \
	fi

# The web UI's unit tests (Vitest in Node, no browser): ui/src/*.test.ts. `npm ci` runs
# again only when package.json or package-lock.json changed since the last install.
$(UI_STAMP): ui/package.json ui/package-lock.json
	cd ui && npm ci --no-audit --no-fund
	touch $(UI_STAMP)

ifeq ($(NPM),)
ui-test:
	@if [ "$${CI:-}" = true ]; then \
	  echo "no npm: the UI unit tests need Node.js (>= 20.19) with npm" >&2; exit 1; \
	else echo "no npm: the UI unit tests skip (and fail under CI=true)"; fi
else
ui-test: $(UI_STAMP)
	cd ui && npm test
endif

test: lint ui-test browser blender
	$(BIN)/pytest -q -n 2 --dist worksteal --durations=30

# Rebuild the web UI from ui/ into src/stormflow/web/static (the build is committed,
# so `make demo` does not need npm; `make test` uses it only for the UI unit tests).
ui:
	cd ui && npm ci --no-audit --no-fund && touch node_modules/.installed && npm run build

bench: setup
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
