# opsbot: `make run` starts the local stack, `make test` runs every check.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CLI := $(BIN)/opsbot

.PHONY: run test lint unit e2e bench load package clean

$(BIN)/python:
	@command -v $(PY) >/dev/null || { echo "need $(PY) (Python 3.11) on PATH, or set PY=..."; exit 1; }
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@touch $(STAMP)

# The `opsbot` CLI (opsbot_cli/, standard library only): a script that runs this checkout's copy.
$(CLI): opsbot_cli/script.py | $(BIN)/python
	$(BIN)/python -m opsbot_cli.script $(CLI)

run: $(STAMP) $(CLI)
	$(BIN)/python -m infra.local run

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/cfn-lint infra/*.yaml

test: lint $(CLI)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m bench

# 1,000 REST requests through a local stack of its own with faults on; writes bench/load.json.
# Not part of `make test` (about 8 minutes on 2 cores). Flags: LOAD_ARGS="--seed 9 --crashes 0.1"
load: $(STAMP)
	$(BIN)/python -m bench.load $(LOAD_ARGS)

# The app stack for real AWS: out/sam.json (SAM template, merged with infra/app-merge.json) and
# out/deployment.zip. Offline: needs no AWS account or credentials, only a region name for
# Chalice's session (the template itself uses AWS::Region). See README.md, "Deploy to AWS".
PACKAGE_STAGE ?= prod
package: $(STAMP)
	rm -rf out
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(BIN)/chalice package \
		--stage $(PACKAGE_STAGE) --merge-template infra/app-merge.json out
	$(BIN)/cfn-lint out/sam.json
	@echo "packaged stage $(PACKAGE_STAGE): out/sam.json, out/deployment.zip"

clean:
	rm -rf $(VENV) .opsbot out .pytest_cache .mypy_cache .ruff_cache
