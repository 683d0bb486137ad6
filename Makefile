# The README's two commands: `make serve` starts the assistant, `make test` runs every test.
# Both set up .venv/ first when it is missing or older than pyproject.toml.

VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PIP    := $(PY) -m pip --disable-pip-version-check -q

.PHONY: install serve test lint browser-deps eval tune bench loadtest clean

install: $(STAMP)

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install --upgrade pip
	# torch first and pinned: any package asking for a plain `torch` would pull a CUDA build of several GB.
	$(PIP) install torch==2.13.0
	$(PIP) install -e '.[st,dev]'
	touch $(STAMP)

# The browser test drives Debian's Chromium; Chinese text needs a CJK font to render.
browser-deps:
	@if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi -e wqy -e 'noto.*cjk'; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-zenhei fonts-noto-color-emoji >/dev/null; \
	fi

serve: install
	$(VENV)/bin/qa serve

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

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
