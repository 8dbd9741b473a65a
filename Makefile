# Two commands for a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test install dev lint typecheck contracts pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# An editable install has no bytecode, and with PYTHONDONTWRITEBYTECODE set (as on some CI
# machines) every agentmux process (each CLI call, each agent hook) would compile ~90 modules
# again: 0.18 s a process. A wheel install compiles them; so do these targets.
install: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	$(BIN)/python -m compileall -q agentmux

dev: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m compileall -q agentmux

## Install agentmux and run its main job: a scratch repository with demo agents working.
run: install
	$(BIN)/agentmux demo

## Install everything and run the whole test suite with its quality gates.
test: dev lint typecheck contracts pytest

lint:
	$(BIN)/ruff check agentmux tests bench
	$(BIN)/ruff format --check agentmux tests bench

typecheck:
	$(BIN)/mypy

contracts:
	$(BIN)/lint-imports

# Three workers on two cores: most of a test's time is spent waiting on tmux, git and agents.
pytest:
	$(BIN)/python -m compileall -q agentmux
	$(BIN)/pytest -q -n 3 --durations=15

bench: install
	$(BIN)/python bench/bench_new_sessions.py

clean:
	rm -rf $(VENV) build dist .mypy_cache .pytest_cache .ruff_cache
