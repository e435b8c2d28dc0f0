# Developer and CI entry points. The README's two commands are `make run` and `make test`;
# both work on a fresh clone with only python3 and make (and root apt access for the
# browser tests).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000
# Extra arguments for pytest, e.g. `make test PYTEST_ARGS="-x tests/retail"`.
PYTEST_ARGS ?=
# pytest-xdist processes, one per CPU by default (`auto`), each with its own test database
# (test_<name>_gw<n>), Redis key prefixes and media folders; `make test PYTEST_WORKERS=0` runs
# in one process (so does PYTEST_ARGS="-n 0 ...": the later -n wins).
PYTEST_WORKERS ?= auto

CHROMIUM ?= /usr/bin/chromium
CJK_FONT ?= /usr/share/fonts/truetype/wqy/wqy-microhei.ttc

.DEFAULT_GOAL := help
# Compiled translations are committed; they are rebuilt here when a .po file is newer and
# GNU msgfmt is available (a fresh machine without gettext uses the committed .mo files).
MO_FILES := $(patsubst %.po,%.mo,$(wildcard locale/*/LC_MESSAGES/*.po))

.PHONY: help install browsers translations run migrate seed test lint format bench messages clean

help:
	@echo "make run       install, migrate, load demo data, serve on http://$(HOST):$(PORT) (with the periodic jobs)"
	@echo "make test      install, check the browser, run the test suite"
	@echo "make lint      ruff check + ruff format --check"
	@echo "make format    ruff format + ruff check --fix"
	@echo "make bench     benchmarks against PostgreSQL (see bench/README.md)"
	@echo "make messages  update and compile the zh_Hans translations"
	@echo "make browsers  install Debian's chromium, a CJK font (browser tests) and nodejs (docs sample)"

# The venv is (re)installed only when pyproject.toml changes: the stamp file records it.
# Debian's own python3 needs the python3-venv package for `-m venv` (pyenv builds do not).
$(PY):
	@$(PYTHON) -m venv $(VENV) || { \
		rm -rf $(VENV); \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv \
			&& $(PYTHON) -m venv $(VENV); \
		else \
			echo "install: '$(PYTHON) -m venv' failed: sudo apt-get install python3-venv"; exit 1; \
		fi; }

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m pip install --quiet --no-deps 'face_recognition==1.3.0'
	@touch $@

install: $(STAMP)

# Browser tests drive Debian's chromium (Playwright's own browser downloads are not used)
# and need a CJK font so Chinese pages render (and screenshot) with real glyphs. Node.js runs the
# developer docs' JavaScript webhook verification sample (tests/retail/webhooks/test_samples.py).
browsers:
	@if [ -x "$(CHROMIUM)" ] && [ -f "$(CJK_FONT)" ] && command -v node >/dev/null 2>&1; then \
		echo "browsers: chromium, the CJK font and node are present"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "browsers: installing chromium, fonts-wqy-microhei and nodejs with apt-get"; \
		apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			chromium fonts-wqy-microhei nodejs; \
	else \
		echo "browsers: MISSING: $(CHROMIUM), $(CJK_FONT) and/or node."; \
		echo "browsers: install them with: sudo apt-get install chromium fonts-wqy-microhei nodejs"; \
		echo "browsers: (the browser tests cannot run without them)"; \
	fi

translations: $(MO_FILES)

locale/%.mo: locale/%.po
	@if command -v msgfmt >/dev/null 2>&1; then \
		echo "msgfmt --check-format -o $@ $<"; msgfmt --check-format -o $@ $<; \
	else \
		echo "translations: msgfmt not found (apt-get install gettext); using the committed $@"; \
	fi

migrate: install translations
	$(PY) manage.py migrate --noinput

seed: migrate
	$(PY) manage.py seed_demo

# The web server, and beside it the periodic jobs (polls, expiries, period closes,
# reconciliation): the embedded default has no Celery beat, so run_periodic runs the beat schedule
# in-process. It follows the server (whose pid the shell hands it before exec): Ctrl-C stops both.
run: seed
	$(PY) manage.py run_periodic --watch-pid $$$$ & \
	exec $(PY) -m uvicorn retail.asgi:application --host $(HOST) --port $(PORT) --lifespan off --ws-per-message-deflate false

# pytest's exit status is printed because make turns every failure into 2 (5 = no tests ran).
test: install browsers translations
	@echo "$(VENV)/bin/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)"
	@$(VENV)/bin/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS) || { rc=$$?; echo "pytest exited with status $$rc"; exit $$rc; }

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: install
	bash bench/run.sh

# Needs GNU gettext (apt-get install gettext). The compiled .mo files are committed so that
# `make run` does not need gettext.
messages: install
	$(PY) manage.py makemessages -l zh_Hans --ignore='.venv/*' --ignore='tests/*' --ignore='bench/*' \
		--ignore='staticfiles/*' --no-obsolete
	$(PY) manage.py compilemessages -l zh_Hans --ignore='.venv/*'

clean:
	rm -rf staticfiles .pytest_cache .ruff_cache artifacts bench/results var
