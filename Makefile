# MedUnion — set-up, serving, lint, tests. See docs/development.md.
#
#   make run        virtual environment, install, keys, demo consortium, serve on 127.0.0.1:8000
#   make test       Debian packages, lint, the whole suite on SQLite and on a private PostgreSQL
#   make lint       ruff, mypy, makemigrations --check
#   make messages   makemessages (zh_Hans) and compilemessages
#   make faults     the fault drills on SQLite and PostgreSQL (scripts/faults/run.py; FAULTS_ARGS=...)
#
# Variables: PYTHON (a Python 3.11), TESTS (what pytest runs), XDIST (pytest-xdist option,
# empty to run serially), PYTEST_ARGS (anything else for pytest).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3 || echo python3.11)
VENV := .venv
BIN := $(VENV)/bin
# The stamps record that pyproject.toml was installed; pip runs again only when it changes.
STAMP_RUN := $(VENV)/.installed
STAMP_DEV := $(VENV)/.installed-dev
ENV_FILE := var/medunion.env

DEBIAN_PACKAGES := postgresql chromium fonts-noto-cjk gettext orthanc orthanc-dicomweb
TESTS ?= tests
XDIST ?= -n auto
PYTEST_ARGS ?=
PYTEST = $(BIN)/pytest $(XDIST) $(PYTEST_ARGS) $(TESTS)

.PHONY: help install install-dev run test test-sqlite test-pg lint messages debian-packages faults clean

help:
	@echo "make run        install, create keys, build the demo, serve on http://127.0.0.1:8000"
	@echo "make test       lint + the whole suite on SQLite and PostgreSQL (as root: installs Debian packages)"
	@echo "make test-sqlite / make test-pg   one database only (TESTS=..., XDIST=, PYTEST_ARGS=...)"
	@echo "make lint       ruff, mypy, makemigrations --check"
	@echo "make messages   update and compile the zh_Hans translations"
	@echo "make faults     the fault drills (crash, database restart, races, backup, bad input) on both databases"

# --- environment ------------------------------------------------------------------------

$(STAMP_RUN): pyproject.toml
	@if [ -f $(STAMP_DEV) ] && [ $(STAMP_DEV) -nt pyproject.toml ]; then \
	    echo "$(VENV) is up to date"; \
	else \
	    scripts/venv.sh $(VENV) "$(PYTHON)"; \
	fi
	@touch $@

$(STAMP_DEV): pyproject.toml
	@scripts/venv.sh $(VENV) "$(PYTHON)" dev
	@touch $@ $(STAMP_RUN)

install: $(STAMP_RUN)
install-dev: $(STAMP_DEV)

# Fresh keys on the first run, private to the user; never overwritten (they decrypt the data).
$(ENV_FILE): | $(STAMP_RUN)
	@mkdir -p $(@D)
	@umask 077 && $(BIN)/medunion keygen > $@.tmp && mv $@.tmp $@
	@echo "wrote fresh keys to $@ (keep it private; the data cannot be read without it)"

# --- serving ----------------------------------------------------------------------------

run: $(STAMP_RUN) $(ENV_FILE)
	@chmod 600 $(ENV_FILE)
	set -a && . ./$(ENV_FILE) && set +a && \
	    MEDUNION_DEMO=1 exec $(BIN)/medunion serve --demo-if-empty

# --- quality ----------------------------------------------------------------------------

lint: $(STAMP_DEV)
	$(BIN)/ruff check src tests
	$(BIN)/mypy src/medunion
	MEDUNION_DEBUG=1 DJANGO_SETTINGS_MODULE=medunion.settings \
	    $(BIN)/python -m django makemigrations --check --dry-run

debian-packages:
	@scripts/debian-packages.sh $(DEBIAN_PACKAGES)

test: debian-packages $(STAMP_DEV)
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory test-sqlite
	$(MAKE) --no-print-directory test-pg

# CI=1: browser tests fail, rather than skip, when Chromium is missing.
test-sqlite test-pg: export CI := 1

# A file, not SQLite's in-memory test database: WAL and the busy timeout then work as in
# production, and a background thread (the import job) can write while a page reads.
test-sqlite: $(STAMP_DEV)
	@echo "=== tests on SQLite ==="
	@mkdir -p var
	env -u DATABASE_URL MEDUNION_SQLITE_TEST_PATH=$(CURDIR)/var/test.sqlite3 $(PYTEST)

test-pg: $(STAMP_DEV)
	@echo "=== tests on PostgreSQL ==="
	scripts/with-postgres.sh $(PYTEST)

# --- fault drills (heavy: minutes each; see docs/faults.md) ---------------------------------

# FAULTS_ARGS: e.g. --only crash, --db sqlite, --quick.
FAULTS_ARGS ?=
faults: $(STAMP_DEV)
	$(BIN)/python scripts/faults/run.py $(FAULTS_ARGS)

# --- translations -----------------------------------------------------------------------

# One catalogue for the whole package, in src/medunion/locale (settings.LOCALE_PATHS).
DJANGO_ADMIN := DJANGO_SETTINGS_MODULE=medunion.settings MEDUNION_DEBUG=1 MEDUNION_DATA_DIR=$(CURDIR)/var \
    $(CURDIR)/$(BIN)/django-admin

messages: $(STAMP_DEV)
	cd src/medunion && $(DJANGO_ADMIN) makemessages -l zh_Hans --no-obsolete --ignore '.venv/*'
	cd src/medunion && $(DJANGO_ADMIN) compilemessages -l zh_Hans --ignore '.venv/*'

clean:
	rm -rf .pytest_cache .mypy_cache .ruff_cache test-results
	find src tests -name __pycache__ -type d -prune -exec rm -rf {} +
