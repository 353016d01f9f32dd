# motionbook: the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# The default pipeline: every numbered notebook with its CI-sized defaults.
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))

.PHONY: install run test lint lab bench clean

install: $(STAMP)

# Reinstall only when the pins change; torch==2.13.0 is pinned so pip takes the CPU wheel.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m ipykernel install --sys-prefix --name motionbook --display-name "motionbook (.venv)" >/dev/null
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m motionbook_lib.runs pipeline $(NOTEBOOKS)
	$(PY) -m motionbook_lib.runs list

test: $(STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# JupyterLab refuses to start as root unless told; containers often run as root.
lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/ $$(test "$$(id -u)" = 0 && echo --allow-root)

bench: $(STAMP)
	for b in benchmarks/*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) runs/
