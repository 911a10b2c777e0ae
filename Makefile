# ReserveSync: every target sets up what it needs on a fresh machine (Python deps with uv,
# Kafka jars with Maven, Hardhat and solc with npm, PostgreSQL from Debian if missing).
SHELL := /bin/bash
UV_VERSION := 0.9.30
VENV := .venv
PY := $(VENV)/bin/python
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := python3.11

.PHONY: setup stack-up stack-down test lint demo drills bench

$(VENV)/.synced: uv.lock pyproject.toml shared/pyproject.toml stack/pyproject.toml scenarios/pyproject.toml services/*/pyproject.toml
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet "uv==$(UV_VERSION)"
	uv sync --locked
	@touch $@

setup: $(VENV)/.synced

stack-up: setup
	$(PY) -m devstack up

stack-down: setup
	$(PY) -m devstack down

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: lint
	$(PY) -m pytest

demo: setup
	$(PY) -m scenarios.demo $(if $(ONCE),--once) $(if $(FORCE),--force)

drills: setup
	$(PY) -m scenarios.drills $(if $(FORCE),--force)

bench: setup
	$(PY) -m bench
