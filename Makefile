# Landfall - every command a developer or CI runs. Each target sets up what it needs.
SHELL := /bin/bash
PYTHON ?= python3.13
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# checkov has its own environment: its dependency pins clash with the SAM CLI's.
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
export SAM_CLI_TELEMETRY := 0
export AWS_EC2_METADATA_DISABLED := true
# sam build looks up python3.13 on PATH: the venv provides it.
export PATH := $(CURDIR)/$(BIN):$(PATH)

CODE := layers functions cli emulator jobs tests benchmarks examples

.PHONY: help venv demo test test-fast lint style types validate cfn-lint checkov build bench rehearsal arm64-python \
	check-deploy deploy imports clean

# Python 3.13 before the venv exists: one line saying what is missing, before anything starts
ifeq ($(wildcard $(STAMP)),)
ifneq ($(filter-out help clean arm64-python,$(or $(MAKECMDGOALS),help)),)
FOUND_PYTHON := $(shell $(PYTHON) -c 'import sys, venv, ensurepip; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
ifneq ($(FOUND_PYTHON),3.13)
$(error $(PYTHON) $(if $(FOUND_PYTHON),is Python $(FOUND_PYTHON),is missing (or lacks its venv module)): Python 3.13 is needed - see the README's "Before the first make", or run make PYTHON=/path/to/python3.13)
endif
endif
endif

help:
	@echo "make demo   - run the whole pipeline on the embedded emulator"
	@echo "make test   - every gate of make lint, build the template, run every test"
	@echo "make deploy - check the AWS CLI, SAM CLI, region and credentials, then sam build && sam deploy --guided"
	@echo "              (CONFIG_ENV=prod: that environment of samconfig.toml); make check-deploy checks alone"
	@echo "make bench  - throughput and memory, as ratios"
	@echo "make rehearsal - one run of 10,000 and of 100,000 objects on the emulator (about 35 minutes)"
	@echo "make lint   - ruff (lint, format, complexity), mypy, import-linter, cfn-lint, sam validate --lint, checkov"

# the first make says what it installs and how long it takes: nothing is silent for minutes
$(STAMP): requirements.lock requirements-dev.in pyproject.toml
	@echo "make: creating $(VENV) with $(PYTHON) and installing the $$(grep -c '==' requirements.lock) pinned packages of" \
	      "requirements.lock (the SAM CLI, moto, DuckDB, pytest, ...): about 3 minutes, once"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)
	@echo "make: $(VENV) is ready; landfall is $(BIN)/landfall"

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/landfall demo $(ARGS)

$(CHECKOV_STAMP): requirements-checkov.lock
	@echo "make: creating $(CHECKOV_VENV) for checkov ($$(grep -c '==' requirements-checkov.lock) pinned packages): about 1 minute, once"
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-checkov.lock
	touch $(CHECKOV_STAMP)

validate: $(STAMP)
	$(BIN)/sam validate --lint

cfn-lint: $(STAMP)
	$(BIN)/cfn-lint template.yaml

# 0 failed checks; every skip is justified in the resource's Metadata. --skip-download: no network.
checkov: $(CHECKOV_STAMP)
	$(CHECKOV_VENV)/bin/checkov -f template.yaml --framework cloudformation --compact --quiet --skip-download

build: $(STAMP)
	$(BIN)/sam build --cached --parallel

# the first thing a deployment lacks, in one line (exit 2), before anything is built: as make reads the
# Makefile when the venv exists (a failing recipe would add make's own line), else once it is made
ifneq ($(filter deploy check-deploy,$(MAKECMDGOALS)),)
ifneq ($(wildcard $(STAMP)),)
DEPLOY_PROBLEM := $(shell $(BIN)/python -m landfall_cli.prerequisites 2>&1)
$(if $(DEPLOY_PROBLEM),$(error $(DEPLOY_PROBLEM)))
DEPLOY_CHECKED := yes
endif
endif

# instance-role credentials (EC2, Cloud9, CodeBuild) come from the metadata service the tests keep off
deploy check-deploy: export AWS_EC2_METADATA_DISABLED := false

check-deploy: $(STAMP)
	$(if $(DEPLOY_CHECKED),@true,@$(BIN)/python -m landfall_cli.prerequisites)

# sam reads AWS_DEFAULT_REGION, not AWS_REGION: the checks accept either, so the deployment gets it too
deploy: check-deploy build
	$(BIN)/sam deploy $(if $(CONFIG_ENV),--config-env $(CONFIG_ENV),--guided) $(if $(AWS_REGION),--region $(AWS_REGION))

test: lint build
	$(BIN)/pytest $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/pytest -m "not emulator" $(PYTEST_ARGS)

# ruff's rules include C90 (complexity at most 15); the length of functions is a test (tests/infra/test_code_shape.py)
style: $(STAMP)
	$(BIN)/ruff check $(CODE)
	$(BIN)/ruff format --check $(CODE)

# the pydantic plugin checks the models; each function folder is checked alone (every handler is app.py)
types: $(STAMP)
	$(BIN)/mypy layers/common/landfall cli/landfall_cli emulator/landfall_emulator
	for f in functions/*/app.py; do $(BIN)/mypy "$$f" || exit 1; done

# the boundaries between the library, the command line and the emulator (pyproject.toml's contracts)
imports: $(STAMP)
	$(BIN)/lint-imports --no-cache

lint: style types imports validate cfn-lint checkov

# progress on stderr, the table and each figure beside its aim on stdout
bench: build
	$(BIN)/python -m benchmarks $(ARGS)

# how time and memory grow with a run's objects; kept out of make test (long)
rehearsal: $(STAMP)
	$(BIN)/python -m benchmarks.rehearsal $(ARGS)

# Debian's aarch64 Python 3.13, for running the arm64 layer under qemu-user (tests/artifact/test_arm64_layer.py);
# needs root, debootstrap and qemu-user-static (.ci/run installs them); unpacked only, nothing configured
ARM64_ROOT := $(CURDIR)/.landfall/arm64-root
arm64-python: $(ARM64_ROOT)/usr/bin/python3.13

$(ARM64_ROOT)/usr/bin/python3.13:
	rm -rf $(ARM64_ROOT).tmp && mkdir -p $(dir $(ARM64_ROOT))
	debootstrap --foreign --arch=arm64 --variant=minbase --include=python3.13 trixie $(ARM64_ROOT).tmp \
	  http://deb.debian.org/debian >/dev/null
	for deb in $(ARM64_ROOT).tmp/var/cache/apt/archives/*.deb; do dpkg -x "$$deb" $(ARM64_ROOT).tmp || exit 1; done
	rm -rf $(ARM64_ROOT) && mv $(ARM64_ROOT).tmp $(ARM64_ROOT)

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .aws-sam .pytest_cache .hypothesis $(ARM64_ROOT)
