# The two commands: `make run` (the platform, with demo data and users) and `make test` (the whole suite).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
REQ_HASH := $(shell cat requirements.txt requirements-dev.txt | sha256sum | cut -c1-12)
RUN_STAMP := $(VENV)/.run-$(REQ_HASH)
DEV_STAMP := $(VENV)/.dev-$(REQ_HASH)

.PHONY: run test lint bench messages clean help

help:
	@echo "make run    start the platform (web + worker) with Peru data and demo users"
	@echo "make test   run the whole test suite (PostgreSQL when DATABASE_URL is set, else SQLite)"
	@echo "make lint   ruff"

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is needed (found " + sys.version.split()[0] + "): set PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(RUN_STAMP): requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(DEV_STAMP): requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(RUN_STAMP) $@

run: $(RUN_STAMP)
	$(PY) manage.py serve

test: $(DEV_STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: $(DEV_STAMP)
	$(PY) -m bench $(BENCH) $(BENCH_ARGS)

messages: $(DEV_STAMP)
	$(PY) manage.py makemessages --locale es --ignore .venv --ignore var --no-obsolete
	$(PY) manage.py compilemessages --ignore .venv

clean:
	rm -rf $(VENV) var
