# Two targets a new user needs: `make serve` and `make test`. Both create
# .venv and install the project (with its dev extras) on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test check lint typing fuzz bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/mockserver serve $(ARGS)

# The test command CI runs: contracts check, lint, types, then the suite.
test: $(STAMP)
	$(BIN)/mockserver contracts check
	$(BIN)/ruff check mockserver tests noxfile.py
	$(BIN)/mypy
	$(BIN)/pytest -n 2 -p no:cacheprovider $(ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
