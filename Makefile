# CinemaAbyss: one entry point for running and testing the whole system.
#   make run    the whole stack in the foreground, under supervisord (Ctrl-C stops everything)
#   make up     the same stack in the background, returning once every service is healthy
#   make ctl    supervisorctl for that stack: `make ctl ARGS='stop movies'`, then `ARGS='start movies'`
#   make logs   follow the output of every process of the stack `make up` started
#   make down   stop what `make up` started, and fail unless every port is closed
#   make test   lint, unit and integration tests against real PostgreSQL and Kafka-protocol broker,
#               then the API suites (make e2e), then a short summary of all of it
#   make e2e    the Postman collection (newman) and schemathesis against a throw-away stack
#   make bench  the gateway against a bare Flask ceiling, a naive proxy and one pooled requests.Session;
#               then the events service against the same ceiling

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
VAR_DIR ?= var
export VAR_DIR

# Ports of the local stack; override any of them from the environment.
export POSTGRES_PORT ?= 5432
export KAFKA_PORT ?= 9092
export MONOLITH_PORT ?= 8080
export MOVIES_PORT ?= 8081
export EVENTS_PORT ?= 8082
export PROXY_PORT ?= 8000
# The gateway's admin port (/ready, /metrics, /status, /dashboard).
export ADMIN_PORT ?= 9000
export BIND_HOST ?= 127.0.0.1
export DB_CONNECTION_STRING ?= postgresql://cinemaabyss:cinemaabyss@127.0.0.1:$(POSTGRES_PORT)/cinemaabyss
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export PYTHONUNBUFFERED := 1

REQUIREMENTS := requirements.txt $(wildcard */requirements.txt)
# Where the suites leave their reports for the summary of `make test`.
REPORTS := var/reports
POSTMAN_DEPS := tests/postman/node_modules/.installed

.PHONY: help venv run up down ctl logs test lint pytest e2e

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: $(REQUIREMENTS)
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -r requirements.txt
	touch $@

venv: $(VENV)/.installed ## create or update .venv from the requirements

# The Procfile lists the processes; devstack/supervisor.py writes $(VAR_DIR)/supervisord.conf from it.
run: venv ## run the whole stack in the foreground; Ctrl-C stops it
	python -m devstack.supervisor run

up: venv ## start the stack in the background and wait until it is healthy; a running stack is left alone
	python -m devstack.supervisor up

down: ## stop the stack started by `make up`; fails, naming the ports, unless all of them are closed
	python -m devstack.supervisor down

ctl: ## supervisorctl for the stack of `make up`: make ctl ARGS='stop movies' (no ARGS: status)
	python -m devstack.supervisor ctl $(ARGS)

logs: ## follow the output of every process of the stack of `make up`
	tail -n 50 -F $(VAR_DIR)/stack.log

lint: venv ## ruff over the whole repository
	ruff check .

pytest: venv
	rm -f $(REPORTS)/pytest.xml
	pytest --junitxml=$(REPORTS)/pytest.xml

# After lint, pytest and the API suites both run even when one fails, so the summary shows both.
test: lint ## everything: lint, unit and integration tests, the API suites, a summary
	status=0; $(MAKE) --no-print-directory pytest || status=$$?; \
	$(MAKE) --no-print-directory e2e || status=$$?; \
	python -m tests.e2e.summary $(REPORTS); exit $$status

$(POSTMAN_DEPS): tests/postman/package.json tests/postman/package-lock.json
	cd tests/postman && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Free ports and VAR_DIR=var/e2e (deleted first), so it never meets a stack of `make up`;
# `make down` runs whatever happens (tests/e2e/run.py).
e2e: venv $(POSTMAN_DEPS) ## newman and schemathesis against a throw-away stack of their own
	python -m tests.e2e.run --reports $(REPORTS)

# Not part of `make test`: a minute of load on every core. wrk (Debian's package) is the load
# generator; it is installed when missing. BENCH_ROUNDS, BENCH_SECONDS, BENCH_CONNECTIONS tune it.
.PHONY: bench
bench: venv ## gateway vs bare Flask, naive proxy and pooled Session; events service vs bare Flask: rps, p50, p99, ratios
	command -v wrk >/dev/null || { $(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq && \
	  $(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
	python -m bench.run

# The C4 diagrams in docs/architecture, drawn by Debian's plantuml (apt-get install plantuml).
.PHONY: diagrams
diagrams: ## re-render docs/architecture/*.puml to SVG and PNG beside each source
	$(PYTHON) docs/architecture/render.py

# Kubernetes cannot read db/schema.sql from the repository: these are its copies (kubernetes/ and
# the Helm chart); a test fails while one differs from the file.
.PHONY: k8s-schema
k8s-schema: ## copy db/schema.sql into kubernetes/20-postgres-schema.yaml and helm/cinemaabyss/files/
	$(PYTHON) kubernetes/sync_schema.py

# The stack in Docker Compose (docker-compose.yml), as the API-tests workflow runs it.
.PHONY: compose-up compose-logs compose-down
compose-up: ## build and start the stack in Docker Compose; return once every service is healthy
	docker compose up --detach --build --wait --wait-timeout 300

compose-logs: ## every Compose service's state and logs
	docker compose ps --all
	docker compose logs --no-color --timestamps

compose-down: ## stop the Compose stack and delete its volumes
	docker compose down --volumes --remove-orphans

# What `make test` needs beyond Python 3.11 and make on a Debian or Ubuntu machine: plantuml and
# graphviz for the diagrams test, Node.js with npm for newman (the CI workflow has Node.js from
# actions/setup-node already), and python3-venv where Debian splits venv off. Only what is missing
# is installed; .ci/run checks the same commands.
CI_PACKAGES := plantuml graphviz
NODE_PACKAGES := nodejs npm
MISSING_PACKAGES = $(strip $(if $(shell command -v plantuml),,plantuml) $(if $(shell command -v dot),,graphviz) \
                   $(if $(shell command -v npm),,$(NODE_PACKAGES)) \
                   $(if $(shell command -v chromium || command -v chromium-browser),,chromium) \
                   $(if $(shell $(PYTHON) -c 'import venv, ensurepip' 2>/dev/null && echo ok),,python3-venv))
.PHONY: ci-packages
ci-packages: ## install what make test needs beyond Python and make: plantuml, graphviz, nodejs, npm, chromium, python3-venv (apt-get)
ifeq ($(MISSING_PACKAGES),)
	@echo "nothing to install: plantuml, dot, npm, chromium and Python's venv are there"
else
	$(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq
	$(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(MISSING_PACKAGES)
endif
