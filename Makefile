# Casemesh — every target sets itself up from a fresh clone.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

.PHONY: venv demo demo-local test unit lint infra-install infra-up infra-down infra-status contracts clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q -c constraints.txt -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

## The main job: the whole mesh in one process through a scripted working day, on the embedded
## default (in-memory broker and stores: nothing but Python). ARGS="--json" for machines.
demo: $(STAMP)
	$(BIN)/casemesh demo $(ARGS)

## The same day on real Kafka and FerretDB started from deploy/local (stopped afterwards).
demo-local: $(STAMP) infra-install
	$(BIN)/casemesh demo --infra local $(ARGS)

## The test command (CI runs exactly this): lint, then every test against real Kafka and a real store.
test: $(STAMP) infra-install lint
	$(BIN)/pytest -ra --durations=10

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy contracts kit services casemesh deploy

## Fetch Kafka (Maven Central) and build FerretDB (Go module proxy) into ~/.cache/casemesh.
## Not needed where a Docker engine or existing servers are used, so a failure here is only a warning.
infra-install: $(STAMP)
	-$(BIN)/python -m deploy.local.localinfra install

infra-up: $(STAMP)
	$(BIN)/python -m deploy.local.localinfra up

infra-down: $(STAMP)
	$(BIN)/python -m deploy.local.localinfra down

infra-status: $(STAMP)
	$(BIN)/python -m deploy.local.localinfra status

contracts: $(STAMP)
	$(BIN)/casemesh contracts export build/contracts

clean:
	rm -rf $(VENV) build .run .pytest_cache .mypy_cache .ruff_cache
