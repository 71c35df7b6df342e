# bi-app: `make run` serves the demo app, `make test` runs every test. Each target sets up what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export BI_TEST_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
export BI_TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: install run test bench lint clean

$(STAMP): pyproject.toml
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  echo "== python3-venv missing: installing it"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv; \
	  $(PYTHON) -m venv $(VENV); }
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[test,dev]"
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/bi-app setup
	$(BIN)/bi-app run

test: install lint
	bash scripts/ensure-test-deps.sh
	$(BIN)/python -m pytest -q

BENCH_ARGS ?=
bench: install
	bash scripts/ensure-test-deps.sh
	$(BIN)/python -m bench.run_all $(BENCH_ARGS)

lint: install
	$(BIN)/ruff check bi_app components callbacks pages tests bench scripts migrations
	$(BIN)/ruff format --check bi_app components callbacks pages tests bench scripts migrations

clean:
	rm -rf $(VENV) instance build *.egg-info
