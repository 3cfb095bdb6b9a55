# omteach: two commands on a fresh machine.
#   make lab    create .venv on first use, install everything, open JupyterLab on notebooks/
#   make test   the same set-up, then the whole test suite (what .ci/run calls)
#   make doctor the same set-up, then the pre-class check (imports, kernel, each chapter's first cell)
#   make student   the student edition (nbgrader): build/release/course/ and dist/omteach-student.zip
#   make answers   the executed answer key: build/answers/
#   make hub    (as root) a whole class from this machine: JupyterHub, a server per student from
#               CLASS_LIST, nbgrader's exchange, the classroom node; prints the URL and a login
# Without make: python -m omteach setup | lab | doctor (the set-up below calls the same code).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.omteach-installed
# Pinned and installed first: an unpinned torch pulls several GB of CUDA packages. On Linux the pin
# comes from PyTorch's CPU index where it is reachable (omteach/setup_tools.py).
TORCH_VERSION := 2.13.0
KERNEL := omteach
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: setup setup-anvil lab test durations doctor browser-deps lint bench student answers notebooks clean \
	classroom rehearsal fuzz setup-hub hub hub-test

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile omteach/setup_tools.py
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if v >= (3, 11) else \
		"omteach needs Python 3.11 or newer, found %d.%d: run make PYTHON=/path/to/python3.11" % v)'
	# creates .venv, installs torch==$(TORCH_VERSION) FIRST, then -e '.[dev]', then the kernel
	$(PYTHON) -m omteach setup --venv $(VENV) --dev --torch-version $(TORCH_VERSION)
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

# The class hub's extra packages ([hub] in pyproject.toml: never on students' laptops) and
# configurable-http-proxy from npm, in a folder of its own: an npm install without a package.json
# prunes what it did not install, so sharing .venv/npm with anvil would remove anvil.
PROXY_VERSION := 5.3.0
PROXY_STAMP := $(VENV)/npm-proxy/.chp-$(PROXY_VERSION)
HUB_STAMP := $(VENV)/.omteach-hub-installed

setup-hub: $(HUB_STAMP) $(PROXY_STAMP)

$(HUB_STAMP): pyproject.toml | $(STAMP)
	$(PY) -m pip install -q -e '.[hub]'
	touch $@

$(PROXY_STAMP): | $(STAMP)
	@if command -v npm >/dev/null 2>&1; then \
		npm install --prefix $(VENV)/npm-proxy --no-save --no-audit --no-fund \
			configurable-http-proxy@$(PROXY_VERSION) && touch $@; \
	else \
		echo "npm not found: the hub needs configurable-http-proxy (install Node.js + npm)"; \
	fi

lab: setup
	$(VENV)/bin/jupyter lab $(ROOT_FLAG) --ServerApp.root_dir=notebooks

# The live classroom (chapter 6): anvil on loopback, the gate on CLASS_HOST:CLASS_PORT (the one
# TCP port students need; CLASS_HOST=0.0.0.0 to let the room in), the class's contracts, the
# faucet. Prints the line students join with; Ctrl-C stops the class.
CLASS_HOST ?= 127.0.0.1
CLASS_SIZE ?= 64
CLASS_PORT ?= 8546
STUDENTS ?= 8

classroom: setup setup-anvil
	$(PY) -m omteach.classroom.node --host $(CLASS_HOST) --port $(CLASS_PORT) \
		--class-size $(CLASS_SIZE) --lab

# A rehearsal: the live round with STUDENTS simulated students as separate processes on this
# machine (one a latecomer, one a dropout); the teacher (AI Inc.) in this process.
rehearsal: setup setup-anvil
	$(PY) -m omteach.classroom.rehearsal --students $(STUDENTS)

# The class hub (as root): CLASS_LIST is a CSV of user names, one student a row. HUB_HOST=0.0.0.0
# lets the room in. Prints the URL and the teacher's login; Ctrl-C stops it (work stays in
# HUB_DATA). HUB_MEMORY: MiB per student (where cgroups allow, docs/hub.md). hub-test: the hub's
# tests alone (the same set make test runs: 8 students, nbgrader's exchange, the browser login).
CLASS_LIST ?= class.csv
HUB_HOST ?= 127.0.0.1
HUB_PORT ?= 8000
HUB_DATA ?= /srv/omteach-hub
HUB_TEACHER ?= teacher
HUB_MEMORY ?= 2048

hub: setup setup-anvil setup-hub
	$(PY) -m omteach hub $(CLASS_LIST) --host $(HUB_HOST) --port $(HUB_PORT) --data $(HUB_DATA) \
		--teacher $(HUB_TEACHER) --memory-limit $(HUB_MEMORY)

hub-test: setup setup-anvil setup-hub
	$(PY) -m pytest -p no:cacheprovider tests/test_hub.py

# Debian's chromium drives the browser test; Playwright never downloads a browser here.
browser-deps:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	else \
		echo "browser test needs Chromium: run 'sudo apt-get install chromium' (Debian/Ubuntu)"; \
	fi

# One worker more than there are cores: about a quarter of the suite's time is spent waiting (a
# node, a browser, a classroom's deadlines), which the extra worker fills (on 2 cores: 512 s with
# two workers, 411 s with three, 442 s with four; bench/RESULTS.md). With --dist loadscope (and
# the scheduler in the root conftest.py) a notebook's cells (nbval) and a class's methods stay
# together in one worker, and the longest start first (tests/durations.json; make durations).
TEST_WORKERS ?= $(shell $(PYTHON) -c 'import os; print(len(os.sched_getaffinity(0)) + 1 if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1) + 1)')

test: setup setup-anvil setup-hub browser-deps
	$(VENV)/bin/ruff check omteach tests bench conftest.py
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadscope

# Renews tests/durations.json (the order in which make test hands out its tests): the whole suite
# once more, with every test's duration reported.
durations: setup setup-anvil setup-hub browser-deps
	@mkdir -p build
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadscope --durations=0 -q -p no:cacheprovider \
		> build/durations.txt || (tail -40 build/durations.txt; exit 1)
	$(PY) bench/suite_durations.py build/durations.txt

doctor: setup
	$(PY) -m omteach doctor --here

lint: setup
	$(VENV)/bin/ruff check omteach tests bench conftest.py

# The gate's property tests with many examples (the suite runs a few dozen), and the hostile
# class's attacks once more. FUZZ_EXAMPLES=... to change how many.
FUZZ_EXAMPLES ?= 3000
fuzz: setup setup-anvil
	OMTEACH_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -q tests/test_gate_fuzz.py \
		tests/test_hostile_class.py

bench: setup
	$(PY) bench/he_bench.py
	$(PY) bench/round_bench.py
	$(PY) bench/encrypted_model_bench.py
	$(PY) bench/torch_threads_bench.py
	$(PY) bench/classroom_bench.py
	$(PY) bench/secagg_bench.py
	$(PY) bench/chapter_bench.py --pieces
	$(PY) bench/classroom_start_bench.py
	$(PY) bench/gate_bench.py
	$(PY) bench/hostile_round_bench.py
	$(PY) bench/round_read_bench.py

# Editions (nbgrader, settings in nbgrader_config.py). The instructor sources, with solutions and
# hidden tests, are source/course/*.ipynb. nbgrader finds alembic on PATH, hence the venv's bin.
# build/ also holds the gradebook and the class's submissions: make clean leaves it alone.
NBGRADER := PATH="$(abspath $(VENV))/bin:$$PATH" $(abspath $(VENV))/bin/nbgrader

# The student edition: no solution, no hidden test. A folder to put on a hub and a zip to hand out.
student: setup
	rm -rf build/release/course dist/omteach-student.zip
	$(NBGRADER) generate_assignment course --force
	mkdir -p dist
	cd build/release && $(abspath $(PY)) -m zipfile -c ../../dist/omteach-student.zip course
	@echo "student edition: build/release/course/ and dist/omteach-student.zip"

# The answer key, executed: fails if a solution no longer passes its checker and hidden tests.
answers: setup
	$(VENV)/bin/jupyter nbconvert --to notebook --execute --output-dir build/answers \
		--ExecutePreprocessor.kernel_name=$(KERNEL) source/course/[0-9]*.ipynb
	@echo "answer key: build/answers/"

# notebooks/ is the student edition (what make lab opens): regenerate it from the sources, re-run
# every notebook top to bottom in a fresh kernel and save it with its outputs (what nbval compares
# against). Edit source/course/, never notebooks/, then run this and commit both. (Edits made in
# notebooks/ by hand: adopt them first with $(PY) source/sync_from_notebooks.py.)
notebooks: student
	cp build/release/course/[0-9]*.ipynb notebooks/
	$(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace \
		--ExecutePreprocessor.kernel_name=$(KERNEL) --ExecutePreprocessor.store_widget_state=True \
		notebooks/[0-9]*.ipynb

clean:
	rm -rf $(VENV) test-artifacts .pytest_cache .hypothesis dist
