# opsbot: `make run` starts the local stack, `make test` runs every check.
SHELL := /bin/bash
# Python 3.12 (the Lambda runtime's): from PY=..., else python3.12 on PATH if it runs (a pyenv
# shim for a version that is not selected does not), else pyenv's own install of 3.12.
PYTHON_VERSION := 3.12
ifeq ($(origin PY),undefined)
PY := $(shell for p in python$(PYTHON_VERSION) \
	"$$(pyenv root 2>/dev/null || echo $$HOME/.pyenv)"/versions/$(PYTHON_VERSION)*/bin/python$(PYTHON_VERSION); \
	do "$$p" -c '' 2>/dev/null && { command -v "$$p"; break; }; done)
endif
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# A .venv built with another Python (a dev machine's 3.11 one) is rebuilt: the file that records
# the venv's Python version changes and the venv's target depends on it.
VENV_PY := $(VENV)/.python-$(PYTHON_VERSION)
CLI := $(BIN)/opsbot

.PHONY: run test lint unit e2e bench load fleet package clean docs schema

$(VENV_PY):
	@[ -n "$(PY)" ] || { echo "need Python $(PYTHON_VERSION): python$(PYTHON_VERSION) on PATH, pyenv's, or PY=..."; exit 1; }
	@if [ -e $(BIN)/python ] && ! $(BIN)/python -c 'import sys; sys.exit(sys.version_info[:2] != tuple(map(int, "$(PYTHON_VERSION)".split("."))))'; then \
		echo "$(VENV) was built with $$($(BIN)/python -V 2>&1); rebuilding it with Python $(PYTHON_VERSION)"; \
		rm -rf $(VENV); fi
	[ -e $(BIN)/python ] || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@touch $(VENV_PY)

$(STAMP): requirements.txt requirements-dev.txt $(VENV_PY)
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@touch $(STAMP)

# The `opsbot` CLI (opsbot_cli/, standard library only): a script that runs this checkout's copy.
$(CLI): opsbot_cli/script.py | $(STAMP)
	$(BIN)/python -m opsbot_cli.script $(CLI)

run: $(STAMP) $(CLI)
	$(BIN)/python -m infra.local run

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/cfn-lint infra/*.yaml

# pytest-xdist workers: 3 on 2 cores, since the e2e tests mostly wait on their local stacks
# (docs/development/testing.md). TEST_WORKERS=0 runs everything in one process.
TEST_WORKERS ?= 3

# The linters run while the tests do (they use the CPU the e2e tests leave while they wait);
# their output is printed after the tests', and either failing fails `make test`.
test: $(STAMP) browser $(CLI)
	@lint_log=$$(mktemp); \
	$(MAKE) --no-print-directory lint >"$$lint_log" 2>&1 & lint_pid=$$!; \
	echo "$(BIN)/python -m pytest -q -n $(TEST_WORKERS)  (make lint running alongside)"; \
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS); tests=$$?; \
	wait $$lint_pid; linted=$$?; \
	echo "--- make lint ---"; cat "$$lint_log"; rm -f "$$lint_log"; \
	[ $$linted -eq 0 ] || echo "make test: lint FAILED (output above)"; \
	[ $$tests -eq 0 ] || echo "make test: tests FAILED (pytest output above the lint's)"; \
	[ $$tests -eq 0 ] && [ $$linted -eq 0 ]

# Headless Chromium for the dashboard's browser test: Debian's package (playwright drives it by
# executable_path; never `playwright install`). Quick when present; as root, or with sudo.
.PHONY: browser
browser:
	@test -x /usr/bin/chromium || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		export DEBIAN_FRONTEND=noninteractive; \
		$$SUDO apt-get install -y -q --no-install-recommends chromium \
		|| { $$SUDO apt-get update -q && $$SUDO apt-get install -y -q --no-install-recommends chromium; }; }

# Cold start, warm overhead, AWS calls, memory, Slack ack, package: writes bench/results.json;
# then what opsbot's own share of a cold start is made of: bench/own_share.json.
# Not part of `make test` (several minutes). Flags: BENCH_ARGS="--cold-runs 5 --no-stack"
bench: package
	$(BIN)/python -m bench $(BENCH_ARGS)
	$(BIN)/python -m bench.own_share

# 1,000 REST requests through a local stack of its own with faults on; writes bench/load.json.
# Not part of `make test` (about 8 minutes on 2 cores). Flags: LOAD_ARGS="--seed 9 --crashes 0.1"
load: $(STAMP)
	$(BIN)/python -m bench.load $(LOAD_ARGS)

# 20 member accounts, 1,000 ECS services and an alarm storm under faults, through a local stack
# of its own; writes bench/fleet.json. Not part of `make test` (several minutes on 2 cores).
# Flags: FLEET_ARGS="--accounts 5 --no-dashboard"
fleet: $(STAMP) browser
	$(BIN)/python -m bench.fleet $(FLEET_ARGS)

# The app stack for real AWS: out/sam.json (SAM template, merged with infra/app-merge.json) and
# out/deployment.zip. Offline: needs no AWS account or credentials, only a region name for
# Chalice's session (the template itself uses AWS::Region). See docs/operations/deploy-to-aws.md.
PACKAGE_STAGE ?= prod
package: $(STAMP)
	rm -rf out
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(BIN)/chalice package \
		--stage $(PACKAGE_STAGE) --merge-template infra/app-merge.json out
	$(BIN)/python -m infra.bytecode out/deployment.zip out/sam.json
	$(BIN)/cfn-lint out/sam.json
	@echo "packaged stage $(PACKAGE_STAGE): out/sam.json, out/deployment.zip"

# The documentation site (mkdocs-material) into site/, strict: a broken link or a missing page
# fails it. Its packages (requirements-docs.txt) are installed by this target only, so `make
# test` never waits for them. See docs/development/docs.md.
DOCS_STAMP := $(VENV)/.docs-installed
$(DOCS_STAMP): requirements-docs.txt $(STAMP)
	$(BIN)/python -m pip install --quiet -r requirements-docs.txt
	@touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet
	@echo "docs: site/index.html"

# chalicelib/policy.schema.json from the policy's pydantic models (after changing them).
schema: $(STAMP)
	$(BIN)/python -m chalicelib.domain.schema

clean:
	rm -rf $(VENV) .opsbot out site .pytest_cache .mypy_cache .ruff_cache
