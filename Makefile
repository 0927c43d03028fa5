# Nexus: `make run` serves the API, `make test` runs the suite. Both install what they need.
SHELL := /bin/sh
PYTHON := $(shell scripts/find-python)
UV_VERSION := 0.13.9
UV := .tools/bin/uv
VENV_PYTHON := .venv/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
# A development quickstart: DEBUG is on unless the environment says otherwise.
export DEBUG ?= true

.PHONY: install run test lint format erd bench api-check clean

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	touch $@

install: .venv/.synced

run: install
	$(VENV_PYTHON) manage.py migrate --noinput
	$(VENV_PYTHON) manage.py demo_load
	$(VENV_PYTHON) manage.py collectstatic --noinput --verbosity 0
	exec .venv/bin/daphne -b $(HOST) -p $(PORT) backend.asgi:application

test: install
	$(VENV_PYTHON) -m pytest

lint: install
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

format: install
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .

erd: install
	$(VENV_PYTHON) manage.py erd --markdown docs/erd.md --png docs/diagrams/erd.png

clean:
	rm -rf .venv .tools .data staticfiles
