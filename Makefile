# omteach: two commands on a fresh machine.
#   make lab    create .venv on first use, install everything, open JupyterLab on notebooks/
#   make test   the same set-up, then the whole test suite (what .ci/run calls)

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.omteach-installed
# Pinned and installed first: an unpinned torch pulls several GB of CUDA packages.
TORCH_VERSION := 2.13.0
KERNEL := omteach
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: setup setup-anvil lab test browser-deps lint bench notebooks clean classroom rehearsal

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if v >= (3, 11) else \
		"omteach needs Python 3.11 or newer, found %d.%d: run make PYTHON=/path/to/python3.11" % v)'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install torch==$(TORCH_VERSION)
	$(PY) -m pip install -e '.[dev]'
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python 3 (omteach)"
	touch $(STAMP)

# A real Ethereum node (anvil) from the npm registry, for the contract tests over JSON-RPC.
ANVIL_VERSION := 1.7.1
ANVIL_STAMP := $(VENV)/npm/.anvil-$(ANVIL_VERSION)

setup-anvil: $(ANVIL_STAMP)

$(ANVIL_STAMP): | $(STAMP)
	@if command -v npm >/dev/null 2>&1; then \
		npm install --prefix $(VENV)/npm --no-save --no-audit --no-fund \
			@foundry-rs/anvil@$(ANVIL_VERSION) && touch $@; \
	else \
		echo "npm not found: the anvil contract tests will be skipped (install Node.js + npm)"; \
	fi

lab: setup
	$(VENV)/bin/jupyter lab $(ROOT_FLAG) --ServerApp.root_dir=notebooks

# The live classroom (chapter 6): anvil on loopback, the gate on CLASS_HOST:CLASS_PORT (the one
# TCP port students need; CLASS_HOST=0.0.0.0 to let the room in), the class's contracts, the
# faucet. Prints the line students join with; Ctrl-C stops the class.
CLASS_HOST ?= 127.0.0.1
CLASS_PORT ?= 8546
STUDENTS ?= 8

classroom: setup setup-anvil
	$(PY) -m omteach.classroom.node --host $(CLASS_HOST) --port $(CLASS_PORT) --lab

# The skeleton of a rehearsal: STUDENTS simulated students as separate processes, on this machine.
rehearsal: setup setup-anvil
	$(PY) -m omteach.classroom.rehearsal --students $(STUDENTS)

# Debian's chromium drives the browser test; Playwright never downloads a browser here.
browser-deps:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	else \
		echo "browser test needs Chromium: run 'sudo apt-get install chromium' (Debian/Ubuntu)"; \
	fi

test: setup setup-anvil browser-deps
	$(VENV)/bin/ruff check omteach tests bench
	$(PY) -m pytest

lint: setup
	$(VENV)/bin/ruff check omteach tests bench

bench: setup
	$(PY) bench/he_bench.py
	$(PY) bench/round_bench.py
	$(PY) bench/encrypted_model_bench.py

# Re-run every notebook top to bottom in a fresh kernel and save it with its outputs (what nbval
# compares against). Run after editing a notebook, then commit the result.
notebooks: setup
	$(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace \
		--ExecutePreprocessor.kernel_name=$(KERNEL) --ExecutePreprocessor.store_widget_state=True \
		notebooks/[0-9]*.ipynb

clean:
	rm -rf $(VENV) test-artifacts .pytest_cache .hypothesis
