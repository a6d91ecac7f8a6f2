# The two commands: `make run` and `make test`. Each creates .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast lint perf clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first, from the pinned CPU wheel, then the package (its range accepts that pin).
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/text2imu run

test: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

test-fast: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -m "not slow and not perf"

perf: $(STAMP)
	$(BIN)/python -m pytest -q -s tests/perf -m perf

lint: $(STAMP)
	$(BIN)/ruff check builder benchmark cards text2imu tests

clean:
	rm -rf $(VENV) build *.egg-info
