# The two commands a newcomer needs: `make demo` and `make test`.
# Each creates .venv and installs the pinned dependencies the first time:
# `make demo` / `make install` what the commands need (requirements.lock),
# `make test` also the test tools and optional features (requirements-test.lock).
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed-stamp
TEST_STAMP := $(VENV)/.test-installed-stamp
export NUMBA_CACHE_DIR ?= $(CURDIR)/.numba_cache

# Which PyTorch build: cpu (from PyTorch's CPU wheel index: 192 MB, no CUDA libraries),
# pypi (what your pip indexes give; from PyPI on Linux that is the CUDA 13 build: 527 MB plus
# 940 MB of cuDNN, NCCL, cuSPARSELt and triton plus the CUDA toolkit's libraries),
# auto (cpu when that index answers, else pypi).
TORCH ?= auto
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
TORCH_PIN := $(shell grep -m1 -o "^torch==[^ ]*" requirements.lock)

.PHONY: demo test install bench clean

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	@torch="$(TORCH)"; \
	if [ "$$torch" = auto ]; then \
	    if $(VENV)/bin/python -c "import urllib.request as u; u.urlopen('$(TORCH_CPU_INDEX)/torch/', timeout=10)" 2>/dev/null; \
	    then torch=cpu; \
	    else torch=pypi; echo "note: $(TORCH_CPU_INDEX) does not answer; torch comes from your pip indexes (from PyPI on Linux: the CUDA build, 1.5 GB and more)"; fi; \
	fi; \
	case "$$torch" in \
	    cpu) extra="--extra-index-url $(TORCH_CPU_INDEX)";; \
	    pypi) extra="";; \
	    *) echo "TORCH=$$torch: use cpu, pypi or auto"; exit 2;; \
	esac; \
	echo "$(VENV)/bin/pip install -q -c requirements.lock $$extra $(TORCH_PIN)"; \
	$(VENV)/bin/pip install -q -c requirements.lock $$extra $(TORCH_PIN)
	$(VENV)/bin/pip install -q --no-deps -r requirements.lock
	$(VENV)/bin/pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP) requirements-test.lock
	$(VENV)/bin/pip install -q --no-deps -r requirements-test.lock
	touch $(TEST_STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/vasa3d demo

# The suite runs in two parts: everything but the real-time checks on TEST_WORKERS processes at once
# (pytest-xdist; a module's tests stay together, so a module's trained avatar is made once), then the
# tests marked `realtime` (the live engine against the wall clock, in the browser and in docs/live.md's
# example) one at a time, alone on the machine. `.venv/bin/python -m pytest` runs it all in one process.
TEST_WORKERS ?= 2

test: $(TEST_STAMP)
	$(VENV)/bin/python -m pytest -n $(TEST_WORKERS) --dist loadscope -m "not realtime"
	$(VENV)/bin/python -m pytest -m realtime

bench: $(STAMP)
	$(VENV)/bin/python benchmarks/render.py

clean:
	rm -rf $(VENV) out .numba_cache
