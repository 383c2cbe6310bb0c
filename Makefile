# Helpline: `make run` sets up and starts the app, `make test` runs the tests (with the optional Ray extra).
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
export HELPLINE_DATA ?= ../shared/datasets
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export GRADIO_ANALYTICS_ENABLED ?= False

.PHONY: setup run test
setup: $(VENV)/.installed

# the tests also run the optional Ray engine of `python -m bot analyze --ray`
$(VENV)/.installed-ray: $(VENV)/.installed requirements-ray.txt
	$(VENV)/bin/pip install --quiet -r requirements-ray.txt
	touch $@

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	$(VENV)/bin/pip install --quiet --no-deps -e .
	touch $@

run: setup
	$(PY) app.py

test: setup $(VENV)/.installed-ray
	$(PY) -m pytest
