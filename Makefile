# Two targets a new user needs: `make serve` and `make test`. Both create
# .venv and install the project (with its dev extras) on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test tools wheel-test clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/mockserver serve $(ARGS)

# System tools the suite uses (.ci/apt-packages.txt, npm's package.json):
# installed when missing and we are root (CI, containers); otherwise one line
# with the install command, and the tests that need them are skipped with
# that reason (in CI, with CI=true, they fail instead).
tools:
	@.ci/setup --check 2>/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then .ci/setup; else .ci/setup --check || true; fi; }

# The test command CI runs: contracts check, lint, types, then the suite
# (which includes the wheel test: tests/test_wheel.py).
test: $(STAMP) tools
	$(BIN)/mockserver contracts check
	$(BIN)/ruff check mockserver tests noxfile.py
	$(BIN)/mypy
	$(BIN)/pytest -n 2 -p no:cacheprovider $(ARGS)

# Only the wheel test: build, install into fresh venvs, run the README there.
wheel-test: $(STAMP)
	$(BIN)/pytest -p no:cacheprovider -m wheel -v $(ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build dist
