# The README's commands. `make demo` and `make test` are the whole set-up.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: demo test install install-dev migrate serve vendor clean

# Base install (what the demo and production need), redone when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e .
	@touch $@

# Dev extras (pytest, browser driver, ...).
$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Migrates the embedded SQLite default, runs real engine benchmarks through the
# agent into the server, and serves the dashboard on http://$(HOST):$(PORT).
demo: install
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py demo --addr $(HOST) --port $(PORT)

test: install-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

migrate: install
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py migrate

serve: install
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py runserver $(HOST):$(PORT)

# Refreshes the vendored Chart.js and plugins from the npm registry.
vendor:
	bash scripts/vendor_static.sh

clean:
	rm -rf $(VENV) var .pytest_cache
