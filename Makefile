# Casemesh — every target sets itself up from a fresh clone.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

# stdout belongs to the targets' own output (`make demo ARGS=--json` prints one JSON document):
# no "Entering directory" lines under `make -C` or a parent make.
MAKEFLAGS += --no-print-directory

.PHONY: venv demo demo-local test unit lint browser-install observability-install dashboard-preview infra-install infra-up infra-down infra-status contracts \
	contracts-wheel contracts-check clean chaos bench

# The mesh depends on casemesh-contracts (contracts/pyproject.toml), installed from ./contracts in the
# same pip call, so it never comes from an index. Everything it prints goes to stderr, so that a target
# it precedes keeps stdout to itself (`make demo ARGS=--json` on a fresh clone).
$(STAMP): pyproject.toml constraints.txt contracts/pyproject.toml
	@echo "installing $(VENV) (-e ./contracts -e '.[test]')" >&2
	@test -x $(BIN)/python || $(PY) -m venv $(VENV) >&2
	@$(BIN)/pip install -q -c constraints.txt -e ./contracts -e '.[test]' >&2
	@touch $(STAMP)

venv: $(STAMP)

## The main job: the whole mesh in one process through a scripted working day, on the embedded
## default (in-memory broker and stores: nothing but Python). ARGS="--json" for machines.
demo: $(STAMP)
	@$(BIN)/casemesh demo $(ARGS)

## The same day on real Kafka and FerretDB started from deploy/local (stopped afterwards).
demo-local: $(STAMP) infra-install
	$(BIN)/casemesh demo --infra local $(ARGS)

## The test command (CI runs exactly this): lint, then every test against real Kafka and a real store.
test: $(STAMP) infra-install browser-install observability-install lint
	$(BIN)/pytest -ra --durations=10

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy contracts kit services casemesh deploy

## The fault suite (issue 13): `casemesh run referrals` replicas under replica kills, broker and
## store outages, rebalances, pauses and SIGTERMs, on a Kafka and FerretDB of its own; prints one
## table row per fault (docs/chaos.md). ARGS="--quick" for the bounded version the tests run.
chaos: $(STAMP) infra-install
	$(BIN)/python -m tests.chaos $(ARGS)

## Throughput and latency (issue 15): raw Kafka and store rates, a naive FastStream consumer and
## `casemesh run complaints` end to end, on a Kafka and FerretDB of its own (under 10 minutes).
## ARGS="--quick" for a minute or two, ARGS="--json" for machines.
bench: $(STAMP) infra-install
	$(BIN)/casemesh bench --infra local $(ARGS)

## Fetch Kafka (Maven Central) and build FerretDB (Go module proxy) into ~/.cache/casemesh.
## Not needed where a Docker engine or existing servers are used, so a failure here is only a warning.
infra-install: $(STAMP)
	-$(BIN)/python -m deploy.local.localinfra install

## Debian's Chromium for the browser tests (Playwright drives it; it never downloads a browser of its own).
## Installed with apt-get only where no chromium is found; a failure here is only a warning.
browser-install:
	-command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

## Debian's prometheus package, for its promtool: the tests check deploy/prometheus's rules with it
## (installed only where no promtool is found; a failure here is only a warning).
observability-install:
	-command -v promtool >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus)

## The picture of the dashboard's panels in the README (docs/dashboard.png), with the embedded demo's numbers.
dashboard-preview: $(STAMP) browser-install
	$(BIN)/python -m deploy.grafana.render_preview docs/dashboard.png

infra-up: $(STAMP)
	$(BIN)/python -m deploy.local.localinfra up

infra-down: $(STAMP)
	$(BIN)/python -m deploy.local.localinfra down

infra-status: $(STAMP)
	$(BIN)/python -m deploy.local.localinfra status

## The contracts for upstream teams: JSON Schemas and AsyncAPI under build/contracts, and the wheel.
contracts: $(STAMP) contracts-wheel
	$(BIN)/casemesh contracts export build/contracts

## The casemesh-contracts wheel, built from a copy of contracts/ (an in-place build would leave
## build/ inside the package). CI builds it too, in tests/integration/contracts.
contracts-wheel: $(STAMP)
	rm -rf build/contracts/src build/contracts/dist
	mkdir -p build/contracts/src
	cp -R contracts build/contracts/src/contracts
	rm -rf build/contracts/src/contracts/*.egg-info build/contracts/src/contracts/build
	find build/contracts/src -name __pycache__ -prune -exec rm -rf {} +
	$(BIN)/pip wheel -q --no-deps -w build/contracts/dist build/contracts/src/contracts

## The contracts against their last release in git history (also a unit test).
contracts-check: $(STAMP)
	$(BIN)/python -m contracts.release check

clean:
	rm -rf $(VENV) build .run .pytest_cache .mypy_cache .ruff_cache
