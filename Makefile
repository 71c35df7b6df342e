# bi-app: `make run` serves the demo app, `make test` runs every test. Each target sets up what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Every package, with its hashes, for Python 3.11 on Linux x86_64: what `make install` puts in
# the venv, so a fresh machine runs on what the tests ran on. `make lock` regenerates it.
LOCK := requirements/lock.txt
LOCK_ARGS ?=
# The lock is resolved on the oldest Python 3.11 it must install on, Debian 12's 3.11.2 where it is
# there (a release that needs a later 3.11, such as soupsieve 3.0.2+, is then held back).
LOCK_PYTHON ?= $(firstword $(wildcard /usr/bin/python3.11) $(PYTHON))
export BI_TEST_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
export BI_TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
export BI_TEST_MYSQL_URL ?= mysql+pymysql://root@127.0.0.1:3306/test

.PHONY: install run test bench lint lock audit clean i18n

# $(call venv,PYTHON,DIR): a virtualenv, with Debian's python3-venv installed first when missing
venv = $(1) -m venv $(2) 2>/dev/null || { \
	  echo "== python3-venv missing: installing it"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv; \
	  $(1) -m venv $(2); }

$(BIN)/python:
	@$(call venv,$(PYTHON),$(VENV))

# The lock (with the test and dev extras) first, every file checked against its hash; then the
# project itself, editable, with no dependency of its own and built by the locked setuptools.
$(STAMP): pyproject.toml $(LOCK) | $(BIN)/python
	$(BIN)/pip install -q --require-hashes -r $(LOCK)
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	@$(BIN)/pip check || { echo "== $(LOCK) does not satisfy pyproject.toml: run make lock"; exit 1; }
	@touch $(STAMP)

install: $(STAMP)

# DEMO_LOCALE=ko loads the Korean demo shop instead (see the README for its settings)
DEMO_LOCALE ?= en
run: install
	bash scripts/ensure-report-deps.sh
	$(BIN)/bi-app setup --demo-locale $(DEMO_LOCALE)
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

# Messages: extract every _()/N_()/ngettext() of the app into the template, merge it into each
# language's catalog (new messages arrive untranslated: tests/unit/test_catalog.py fails until they
# are translated), then compile the catalogs the app reads. The compiled .mo files are committed.
CATALOGS := bi_app/translations
i18n: install
	$(BIN)/pybabel extract -F babel.cfg --no-location --sort-output \
	  -o $(CATALOGS)/messages.pot bi_app components callbacks pages
	$(BIN)/pybabel update --no-fuzzy-matching -i $(CATALOGS)/messages.pot \
	  -d $(CATALOGS)
	$(BIN)/pybabel compile --statistics -d $(CATALOGS)

# Resolves from the public index only: this machine's extra local indexes and find-links stay out,
# so every hash is the registry's own. LOCK_ARGS=--upgrade moves every pin to its newest release.
lock:
	@$(call venv,$(LOCK_PYTHON),$(VENV)/lock-tools)
	$(VENV)/lock-tools/bin/pip install -q "pip-tools>=7.4"
	env -u PIP_FIND_LINKS -u PIP_EXTRA_INDEX_URL -u PIP_INDEX_URL PIP_CONFIG_FILE=/dev/null \
	  CUSTOM_COMPILE_COMMAND="make lock" \
	  $(VENV)/lock-tools/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	  --no-emit-index-url --no-emit-find-links --extra test --extra dev $(LOCK_ARGS) \
	  -o $(LOCK) pyproject.toml requirements/pip.in

# Known vulnerabilities in the locked versions: needs the vulnerability service, so not part of
# test. --strict: a package the service cannot look up fails the audit instead of passing unseen.
audit: | $(BIN)/python
	$(BIN)/pip install -q pip-audit
	$(BIN)/pip-audit --strict --progress-spinner off --require-hashes --disable-pip -r $(LOCK)

clean:
	rm -rf $(VENV) instance build *.egg-info
