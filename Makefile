# The two Quick start commands. Both create .venv and install pinned dependencies on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

# Runs the bot on Telegram when BOT_TOKEN is configured, otherwise the offline console.
run: $(STAMP)
	@if [ -n "$$BOT_TOKEN" ] || grep -qsE '^BOT_TOKEN=.+' .env; then $(BIN)/visitbot run; else $(BIN)/visitbot console; fi

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest -q -n 2 --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/python -m benchmarks.detection_quality
	$(BIN)/python -m benchmarks.programme_quality
	$(BIN)/python -m benchmarks.feeds
	$(BIN)/python -m benchmarks.fanout --write
	$(BIN)/python -m benchmarks.limits --write
	$(BIN)/python -m benchmarks.scale --write
