# The README's two commands: `make run` and `make test`. Everything else supports them.
# Needs only Python 3.11+ and make; the virtual environment lives in .venv.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
TS_TOOLS := tests/typescript/node_modules/.installed
PORT ?= 8000
# Debian's Chromium, driven by Playwright in the admin's browser tests (tests/e2e/test_admin_browser.py).
export CHROMIUM ?= /usr/bin/chromium

.PHONY: run test install browser rabbitmq pgbouncer lint format bench stop clean lock

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Reinstall whenever the dependency pins change.
$(STAMP): pyproject.toml requirements.lock | $(PY)
	$(PY) -m pip install --quiet -c requirements.lock -e ".[dev]"
	touch $(STAMP)

# `make run` needs only the virtualenv; the test suite also needs the browser and the
# TypeScript tools of the schema's type-check.
install: $(STAMP) browser rabbitmq pgbouncer $(TS_TOOLS)

## the schema's TypeScript type-check (tests/clinic/test_typescript_client.py): openapi-typescript,
## openapi-fetch and tsc, pinned in tests/typescript/package-lock.json; Debian's npm if missing
$(TS_TOOLS): tests/typescript/package.json tests/typescript/package-lock.json
	@command -v npm >/dev/null || apt-get install -y -q npm || (apt-get update -q && apt-get install -y -q npm)
	npm ci --prefix tests/typescript --no-audit --no-fund --ignore-scripts --loglevel=error
	touch $@

## the browser of the admin's browser tests: Debian's chromium package (Playwright's download is
## not used). Only `make test` (and CI) need it: installing it takes root.
browser:
	@test -x $(CHROMIUM) || apt-get install -y -q chromium || (apt-get update -q && apt-get install -y -q chromium)

## RabbitMQ, the second broker of the reminder fault test (tests/e2e/rabbitmq.py runs a node of
## its own, on its own ports): Debian's rabbitmq-server package. Installing it takes root; the
## system service the package may start is not used.
rabbitmq:
	@test -x /usr/lib/rabbitmq/bin/rabbitmq-server || apt-get install -y -q rabbitmq-server || (apt-get update -q && apt-get install -y -q rabbitmq-server)

## the connection pooler of the PgBouncer tests (tests/e2e/pgbouncer.py): Debian's pgbouncer
## package. The tests run the binary with a config of their own on a free port; a system service
## the package may start (on 6432) is left alone and nothing here uses it.
pgbouncer:
	@test -x /usr/sbin/pgbouncer || apt-get install -y -q pgbouncer || (apt-get update -q && apt-get install -y -q pgbouncer)

## make run: embedded servers (unless DATABASE_URL/REDIS_URL), migrate, seed, serve + worker + beat
run: $(STAMP)
	DEBUG=$${DEBUG:-1} PORT=$(PORT) exec $(PY) manage.py serve

## make test: the whole suite (real servers when the URLs are set, throwaway embedded ones if not)
test: install
	exec $(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## make bench: benchmarks against their baselines (bench/README.md); real PostgreSQL and Redis
## (BENCH_DATABASE_URL, REDIS_URL), wrk from Debian's package. Not part of `make test`.
bench: $(STAMP)
	@command -v wrk >/dev/null || (apt-get install -y wrk || (apt-get update && apt-get install -y wrk))
	$(PY) -m pip install --quiet -c requirements.lock -e ".[dev,bench]"
	$(PY) -m bench.run

## make stop: stop this checkout's embedded PostgreSQL and Redis (if left running)
stop: $(STAMP)
	$(PY) manage.py embedded_stop

## make lock: re-pin the whole dependency tree after changing pyproject.toml
lock: | $(PY)
	$(PY) -m pip install --quiet -e ".[dev]"
	$(PY) -m pip freeze --exclude-editable --exclude continuum > requirements.lock

clean: stop
	rm -rf .local
