# Two commands for a fresh machine with Python 3.11+ and make:
#   make demo   set up, load the sample data into the embedded warehouse, start the Dagster UI
#   make test   set up, run the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: setup demo test dev load report stop clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@rm -f $(VENV)/.installed-*
	@touch $@

setup: $(STAMP)

# The sample products snapshot keeps the demo offline; set FAKESTORE_BASE_URL to use the live API.
demo: $(STAMP)
	FAKESTORE_BASE_URL="$${FAKESTORE_BASE_URL:-data/sample/products.json}" $(BIN)/warehouse load
	$(BIN)/warehouse report
	$(BIN)/warehouse dev

test: $(STAMP)
	$(BIN)/pytest

dev: $(STAMP)
	$(BIN)/warehouse dev

load: $(STAMP)
	$(BIN)/warehouse load

report: $(STAMP)
	$(BIN)/warehouse report

# Stops the warehouse's embedded PostgreSQL and the one the tests start (should a test run have
# been killed before it could stop it).
stop: $(STAMP)
	$(BIN)/warehouse stop
	WAREHOUSE_DATABASE_URL= WAREHOUSE_STATE_DIR=.warehouse/test $(BIN)/warehouse stop

clean: stop
	rm -rf .warehouse reports
