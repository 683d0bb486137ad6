# The README's commands: `make serve` starts the assistant, `make check` runs the fast tests,
# `make test` runs every test. Each sets up .venv/ first when it is missing or older than pyproject.toml.

VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q
# Serving needs the package and its default dependencies only: no torch, no sentence-transformers.
SERVE_STAMP := $(VENV)/.installed-serve
# Tests add the sentence-transformers extra (and so torch) and the dev tools.
STAMP  := $(VENV)/.installed-dev

.PHONY: install install-serve serve check test lint browser-deps eval tune bench loadtest clean

install: $(STAMP)

install-serve: $(SERVE_STAMP)

$(PY):
	python3 -m venv $(VENV)
	$(PIP) install --upgrade pip

$(SERVE_STAMP): pyproject.toml | $(PY)
	$(PIP) install -e .
	touch $@

$(STAMP): pyproject.toml | $(PY)
	# torch first and pinned: any package asking for a plain `torch` would pull a CUDA build of several GB.
	$(PIP) install torch==2.13.0
	$(PIP) install -e '.[st,dev]'
	touch $(SERVE_STAMP) $@

# The browser test drives Debian's Chromium; Chinese text needs a CJK font to render. axe-core,
# which checks each tab's accessibility, comes from npm into tests/node_modules (tests/package.json).
browser-deps:
	@if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi -e wqy -e 'noto.*cjk' || ! command -v npm >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-zenhei fonts-noto-color-emoji npm >/dev/null; \
	fi
	@[ -f tests/node_modules/axe-core/axe.min.js ] || (cd tests && npm ci --no-audit --no-fund --silent)

PORT ?= 7860

serve: install-serve
	$(VENV)/bin/qa serve --port $(PORT)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# The fast suite: no real model, server, child process or browser (see tests/conftest.py).
check: lint
	$(VENV)/bin/pytest -q -p no:cacheprovider -m "not slow and not browser"

test: install browser-deps lint
	$(VENV)/bin/pytest -q -p no:cacheprovider

eval: install
	$(VENV)/bin/qa eval

# Grid search on the gold set's dev split; rewrites corpus/tuned.json (qa tune --dry-run only prints).
tune: install
	$(VENV)/bin/qa tune

bench: install
	$(VENV)/bin/qa bench

loadtest: install
	$(VENV)/bin/qa loadtest

clean:
	rm -rf index/ .pytest_cache .mypy_cache .ruff_cache
