# Every target creates/uses .venv and installs what it needs; `make demo` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.edgeunet-installed
PYTEST_ARGS ?=

.PHONY: demo test test-all lint typecheck setup setup-rtsp clean mutation

setup: $(STAMP)

$(STAMP): setup.py pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[train,dev]'
	$(PY) tests/prepare_trt_stubs.py .typecheck/stubs
	touch $(STAMP)

# rtsp:// output: GStreamer + its RTSP server from apt (as root, or via sudo), PyGObject built into .venv (the `rtsp` extra).
# Without it the rtsp:// tests skip with the reason. apt runs only when a package is missing.
RTSP_APT := python3-gi gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0 gir1.2-gst-rtsp-server-1.0 gstreamer1.0-rtsp \
            gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav \
            libgirepository1.0-dev libcairo2-dev pkg-config gcc
RTSP_STAMP := $(VENV)/.edgeunet-rtsp
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

setup-rtsp: $(RTSP_STAMP)

$(RTSP_STAMP): $(STAMP)
	dpkg -s $(RTSP_APT) >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $(RTSP_APT); }
	$(PY) -m pip install -q -e '.[rtsp]'
	$(PY) -c "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer"
	touch $(RTSP_STAMP)

demo: $(STAMP)
	$(VENV)/bin/edgeunet demo

lint: $(STAMP)
	$(VENV)/bin/ruff check edgeunet tests benchmarks
	$(VENV)/bin/lint-imports
	find deploy benchmarks -name '*.sh' -print0 | xargs -0 -r $(VENV)/bin/shellcheck --shell=bash --external-sources
	@py38=$$(for p in python3.8 $$HOME/.pyenv/versions/3.8*/bin/python3.8; do "$$p" -c "" >/dev/null 2>&1 && echo "$$p" && break; done); \
	if [ -n "$$py38" ]; then "$$py38" -m compileall -q edgeunet && echo "python3.8 ($$py38): edgeunet compiles"; \
	else echo "python3.8 not found: skipped the JetPack 5 syntax check"; fi

typecheck: $(STAMP)
	$(VENV)/bin/mypy
	MYPYPATH=.typecheck/stubs $(VENV)/bin/mypy --strict --follow-imports=silent edgeunet/trt

# Line coverage of the TensorRT layer, run under the TensorRT emulator (tests/trtsim) for 8.5, 10.3 and 11.
COVERAGE := --cov=edgeunet.trt --cov=edgeunet.runtime.trt_backend --cov-report=term --cov-fail-under=95

# pytest exits 5 when it collects no test; make treats that as a failure, as it should.
test: lint typecheck
	$(PY) -m pytest $(COVERAGE) $(PYTEST_ARGS)

test-all: lint typecheck
	$(PY) -m pytest -m "" $(COVERAGE) $(PYTEST_ARGS)

# Mutation testing of the TensorRT layer under the emulator tests (mutmut, one worker, nice 19; not part of `make test`):
# ~30 min on 2 cores; writes benchmarks/results/mutation_trt.md and fails below a 90% score (benchmarks/mutation.py).
TRT_API ?= $(abspath ..)/shared/trt-api

mutation: $(STAMP)
	EDGEUNET_TRT_API=$(TRT_API) nice -n 19 $(PY) benchmarks/mutation.py

clean:
	rm -rf mutants $(VENV) .typecheck .mypy_cache .ruff_cache .pytest_cache *.egg-info
