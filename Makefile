# Vigie — every target bootstraps its own virtual environment in .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench migration docs clean

$(STAMP): pyproject.toml
	@tools/system_deps.sh
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

demo: $(STAMP)  ## Replay the OFII case on a fresh embedded SQLite instance.
	$(BIN)/vigie demo

test: $(STAMP)  ## The whole suite, on SQLite and (when reachable) PostgreSQL.
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

lint: $(STAMP)  ## ruff and mypy (strict on src/vigie).
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/ruff format --check src tests benchmarks tools
	$(BIN)/mypy

bench: $(STAMP)  ## Benchmarks: print figures and ratios; see docs/benchmarks.md.
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y wrk >/dev/null 2>&1; } \
		|| echo "bench: wrk (the gateway benchmark's load tool) is missing: apt-get install wrk"
	$(BIN)/python -m pip install --quiet -e ".[bench]"  # Splink, the leak linkage peer
	$(BIN)/python -m benchmarks

docs: $(STAMP)  ## Regenerate the CLI reference and build the site (strict: warnings fail).
	$(BIN)/python tools/gen_docs.py
	$(BIN)/python tools/console_catalogue.py
	$(BIN)/mkdocs build --strict --quiet

migration: $(STAMP)  ## Regenerate the initial migration after a model change (pre-release).
	$(BIN)/python tools/regen_migration.py

clean:
	rm -rf $(VENV) vigie-data demo-output .pytest_cache .mypy_cache .ruff_cache
