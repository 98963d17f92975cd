# Two commands for a fresh clone: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Reinstall only when pyproject.toml changes.
HASH := $(shell sha1sum pyproject.toml | cut -c1-10)
RUNTIME_STAMP := $(VENV)/.runtime-$(HASH)
DEV_STAMP := $(VENV)/.dev-$(HASH)
PIP := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: run test lint install dev system-deps bench docs clean

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

# Debian packages the tests use: chromium for the real-browser tests of the web pages, a
# small CJK font so chart images can label Chinese names, an emoji font (the office screen's
# announcements carry the team channel's emoji; its screenshot is kept), and nginx, which the tests of the
# reference deployment (deploy/nginx) start on loopback themselves. Installed once, as root.
# nginx's system service is not started: a policy-rc.d that forbids it is put in place for the
# install when the machine has none (Docker images ship one).
system-deps:
	@{ command -v chromium >/dev/null 2>&1 && fc-list :lang=zh 2>/dev/null | grep -q . \
	  && fc-list 2>/dev/null | grep -qi emoji ; } || { \
	  echo "installing Debian chromium, a CJK font and an emoji font" >&2; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    chromium fontconfig fonts-wqy-microhei fonts-noto-color-emoji >/dev/null) >&2 \
	  || echo "warning: could not install chromium and fonts; the browser test will fail in CI" >&2; }
	@test -x /usr/sbin/nginx || { \
	  echo "installing Debian nginx (its system service is not started)" >&2; \
	  policy=/usr/sbin/policy-rc.d; own=; \
	  if [ ! -e $$policy ]; then own=1; printf '#!/bin/sh\nexit 101\n' > $$policy && chmod 755 $$policy; fi; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null) >&2 \
	  || echo "warning: could not install nginx; the deployment tests will fail in CI" >&2; \
	  if [ -n "$$own" ]; then rm -f $$policy; fi; }

lint: dev
	$(BIN)/ruff check bot db tests bench

# The suite in two parts: the tests that assert no wall-clock bound, one pytest worker per core
# (at most 4); then, alone, those that do (marked serial). Both run even when the first fails.
test: dev system-deps lint
	@rc=0; \
	$(BIN)/python -m pytest -n auto --maxprocesses 4 --dist loadscope -m "not serial" || rc=$$?; \
	$(BIN)/python -m pytest -m serial || rc=$$?; \
	exit $$rc

bench: dev
	$(BIN)/python -m bench

# The documentation site (docs/, mkdocs.yml) into site/; any broken link or warning fails it.
docs: dev
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m mkdocs build --strict

clean:
	rm -rf $(VENV) fieldcrm.sqlite3* .pytest_cache site
