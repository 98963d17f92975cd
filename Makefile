# Two commands for a fresh clone: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Reinstall only when pyproject.toml changes.
HASH := $(shell sha1sum pyproject.toml | cut -c1-10)
RUNTIME_STAMP := $(VENV)/.runtime-$(HASH)
DEV_STAMP := $(VENV)/.dev-$(HASH)
PIP := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: run test lint install dev browser bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(RUNTIME_STAMP): $(BIN)/python pyproject.toml
	$(PIP) install -e . >&2
	touch $@

$(DEV_STAMP): $(BIN)/python pyproject.toml
	$(PIP) install -e '.[dev]' >&2
	touch $@ $(RUNTIME_STAMP)

install: $(RUNTIME_STAMP)
dev: $(DEV_STAMP)

run: install
	@$(BIN)/fieldcrm run

# Debian's chromium for the real-browser tests (check-in page); installed once, as root.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian chromium for browser tests" >&2; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) >&2 \
	  || echo "warning: could not install chromium; browser tests will be skipped" >&2; }

lint: dev
	$(BIN)/ruff check bot db tests bench

test: dev browser lint
	$(BIN)/python -m pytest

bench: dev
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) fieldcrm.sqlite3* .pytest_cache
