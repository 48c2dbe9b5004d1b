# Two entry points: `make demo` (set up, run the main job) and `make test` (set up, run the tests).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test venv clean notebooks

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/sgdlab demo

test: $(STAMP)
	MPLBACKEND=Agg $(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) sgdlab-runs sgdlab-demo .pytest_cache

# execute the tutorial notebooks; copies with outputs in out/notebooks/ (sources: notebooks/source/)
notebooks: $(STAMP)
	$(BIN)/python notebooks/build.py --execute
