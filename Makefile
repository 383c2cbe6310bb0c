# Helpline: `make run` sets up and starts the app, `make test` lints and runs the tests (with the optional Ray extra).
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

# torch first, the CPU build unless a GPU is present: PyPI's torch is a CUDA build of several GB. A wheel in
# PIP_FIND_LINKS (a machine's own copy) wins; with an NVIDIA driver, PyPI's build; else PyTorch's CPU index.
TORCH := $(shell grep -o '^torch==[^ ]*' requirements.txt)
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet --no-index --no-deps $(TORCH) 2>/dev/null \
	  || { command -v nvidia-smi >/dev/null 2>&1 && $(VENV)/bin/pip install --quiet $(TORCH); } \
	  || $(VENV)/bin/pip install --quiet $(TORCH) --index-url $(TORCH_CPU_INDEX) --extra-index-url https://pypi.org/simple
	$(VENV)/bin/pip install --quiet -r requirements.txt
	$(VENV)/bin/pip install --quiet --no-deps -e .
	touch $@

run: setup
	$(PY) app.py

test: setup $(VENV)/.installed-ray
	$(VENV)/bin/ruff check .
	$(PY) -m pytest
