# Two entry points: `make demo` (set up, run the main job) and `make test` (set up, run the tests).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# `make demo` installs only what the lessons need; `make test` adds the test extras (Ray, Selenium,
# Jupyter, Hypothesis) on top. Each has its own stamp, so neither reinstalls the other's.
DEMO_STAMP := $(VENV)/.installed-demo

.PHONY: demo test test-slow test-all test-numeric test-under-load venv clean notebooks

$(DEMO_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $(DEMO_STAMP)

$(STAMP): $(DEMO_STAMP)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/sgdlab demo

test: $(STAMP)
	MPLBACKEND=Agg $(BIN)/python -m pytest -q -m "not slow"

# the tests marked slow (CI runs them after `make test`); pytest's exit 5 means none is marked
test-slow: $(STAMP)
	MPLBACKEND=Agg $(BIN)/python -m pytest -q -m slow || [ $$? -eq 5 ]

# the numeric-equality tests (marker `numeric`) again under each CPU kernel path: default/SSE4_2,
# avx2/AVX2 and avx512/AVX512 where the CPU has it (ATEN_CPU_CAPABILITY, MKL_ENABLE_INSTRUCTIONS)
test-numeric: $(STAMP)
	.ci/numeric $(BIN)/python

# every test: `make test`, then the slow ones
test-all: test test-slow

# `make test` 3 times beside a background load that keeps every core busy (bounded busy loops the
# script starts and stops); prints which runs and which tests failed. About 25 minutes on 2 cores.
test-under-load: $(STAMP)
	$(BIN)/python .ci/under-load --runs 3 -- $(MAKE) --no-print-directory test

clean:
	rm -rf $(VENV) sgdlab-runs sgdlab-demo .pytest_cache

# execute the tutorial notebooks; copies with outputs in out/notebooks/ (sources: notebooks/source/)
notebooks: $(STAMP)
	$(BIN)/python notebooks/build.py --execute
