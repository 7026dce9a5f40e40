# Landfall - every command a developer or CI runs. Each target sets up what it needs.
SHELL := /bin/bash
PYTHON ?= python3.13
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export SAM_CLI_TELEMETRY := 0
export AWS_EC2_METADATA_DISABLED := true
# sam build looks up python3.13 on PATH: the venv provides it.
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: help venv demo test test-fast lint validate build bench clean

help:
	@echo "make demo   - run the whole pipeline on the embedded emulator"
	@echo "make test   - validate and build the template, run every test"
	@echo "make bench  - throughput and memory, as ratios"
	@echo "make lint   - ruff, cfn-lint, sam validate --lint"

$(STAMP): requirements.lock requirements-dev.in pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/landfall demo $(ARGS)

validate: $(STAMP)
	$(BIN)/sam validate --lint

build: $(STAMP)
	$(BIN)/sam build --cached --parallel

test: validate build
	$(BIN)/ruff check layers functions cli tests benchmarks examples
	$(BIN)/pytest $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/pytest -m "not emulator" $(PYTEST_ARGS)

lint: $(STAMP) validate
	$(BIN)/ruff check layers functions cli tests benchmarks examples
	$(BIN)/cfn-lint template.yaml

bench: $(STAMP)
	$(BIN)/python -m benchmarks $(ARGS)

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache .hypothesis
