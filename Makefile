# The README's two commands: `make run` and `make test`. Everything else supports them.
# Needs only Python 3.11+ and make; the virtual environment lives in .venv.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
PORT ?= 8000

.PHONY: run test install lint format bench stop clean lock

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Reinstall whenever the dependency pins change.
$(STAMP): pyproject.toml requirements.lock | $(PY)
	$(PY) -m pip install --quiet -c requirements.lock -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## make run: embedded servers (unless DATABASE_URL/REDIS_URL), migrate, seed, serve + worker + beat
run: install
	DEBUG=$${DEBUG:-1} PORT=$(PORT) exec $(PY) manage.py serve

## make test: the whole suite (real servers when the URLs are set, throwaway embedded ones if not)
test: install
	exec $(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## make bench: benchmarks against their baselines (bench/README.md); real PostgreSQL and Redis
## (BENCH_DATABASE_URL, REDIS_URL), wrk from Debian's package. Not part of `make test`.
bench: install
	@command -v wrk >/dev/null || (apt-get install -y wrk || (apt-get update && apt-get install -y wrk))
	$(PY) -m pip install --quiet -c requirements.lock -e ".[dev,bench]"
	$(PY) -m bench.run

## make stop: stop this checkout's embedded PostgreSQL and Redis (if left running)
stop: install
	$(PY) manage.py embedded_stop

## make lock: re-pin the whole dependency tree after changing pyproject.toml
lock: | $(PY)
	$(PY) -m pip install --quiet -e ".[dev]"
	$(PY) -m pip freeze --exclude-editable --exclude continuum > requirements.lock

clean: stop
	rm -rf .local
