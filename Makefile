# The README's commands. `make demo` and `make test` are the whole set-up.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: demo test install install-dev bench-install browser migrate serve vendor clean

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

# The detection eval's peers (benchmark only). otava's metadata pins old numpy/scipy,
# so it goes in without its dependencies; only otava.analysis is used.
bench-install: install
	$(BIN)/python -m pip install -q -e '.[bench]'
	$(BIN)/python -m pip install -q --no-deps 'apache-otava==0.8.0'

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Migrates the embedded SQLite default, runs real engine benchmarks through the
# agent into the server, and serves the dashboard on http://$(HOST):$(PORT).
demo: install
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py demo --addr $(HOST) --port $(PORT)

test: install-dev browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The browser tests drive Debian's chromium through playwright (playwright's own
# browser download cannot work offline). Installed when missing and we may use
# apt; otherwise the browser tests skip (and fail under ROOFWATCH_REQUIRE_SERVICES=1).
CHROMIUM := /usr/bin/chromium
browser:
	@test -x $(CHROMIUM) || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }; } || \
		echo "make: $(CHROMIUM) is missing and cannot be installed here (apt-get install chromium as root); browser tests will skip"

migrate: install
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py migrate

serve: install
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py runserver $(HOST):$(PORT)

# Refreshes the vendored Chart.js and plugins from the npm registry.
vendor:
	bash scripts/vendor_static.sh

clean:
	rm -rf $(VENV) var .pytest_cache
