# The course's commands. `make course` builds everything an instructor needs; `make test` is
# what CI runs. Both start from a machine with Python (the version lib/pyproject.toml
# requires) and make, nothing else.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
BUILD  := _build
# jupyter-book flags: warnings (a failing chapter cell among them) are errors
JB_FLAGS := --warningiserror --nitpick --keep-going

# A mirror of the real corpora beside the repository, where there is one (rnnlab.data reads
# RNNLAB_DATA; see README "Data"): the pages, tests and `make reproduce` then use it.
RNNLAB_DATA ?= $(abspath $(wildcard ../shared/data))
export RNNLAB_DATA

.PHONY: student course site publish release grade demo test bench reproduce clean

$(STAMP): requirements.txt requirements-student.txt lib/pyproject.toml autograder/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

# A student's install: only what the notebooks need (no nbgrader, site builder or test tools),
# then JupyterLab on the assignments. NOTEBOOK=NN_slug opens that chapter's notebook.
STUDENT_STAMP := $(VENV)/.student
NOTEBOOK ?=
$(STUDENT_STAMP): requirements-student.txt lib/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-student.txt
	touch $@

student: $(STUDENT_STAMP)
	$(BIN)/jupyter lab $(if $(NOTEBOOK),notebooks/$(NOTEBOOK)/$(NOTEBOOK).ipynb,notebooks)

# Chapter outputs are cached by jupyter-cache, which keys on the cells only: a change to
# rnnlab's sources must re-execute every page, so the cache is dropped when they change, and
# with it Sphinx's environment (.doctrees: it would keep the old outputs of unchanged pages). The
# pages are executed in parallel (one process per core, one thread each: the chapters' models
# are small, and two threads per page on a loaded machine are slower than one) into that cache,
# then the book is built from it; a page that fails there is executed again by the build, which
# reports its error.
LIB_HASH = $(shell cat $$(find lib/rnnlab -name '*.py' | sort) | sha256sum | cut -c1-16)
CACHE := $(BUILD)/.jupyter_cache
PAGES := $(wildcard book/*.md)
PAGE_TIMEOUT := $(shell sed -n 's/^ *timeout: *//p' _config.yml)

site: $(STAMP)
	@mkdir -p $(BUILD)
	@if [ "$$(cat $(BUILD)/.rnnlab-hash 2>/dev/null)" != "$(LIB_HASH)" ]; then \
	    rm -rf $(CACHE) $(BUILD)/.doctrees; echo "$(LIB_HASH)" > $(BUILD)/.rnnlab-hash; fi
	@echo y | $(BIN)/jcache notebook -p $(CACHE) add -r myst_nb_md $(PAGES) >/dev/null
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/jcache project -p $(CACHE) execute -e local-parallel -t $(PAGE_TIMEOUT)
	$(BIN)/jupyter-book build . $(JB_FLAGS)

# The built site to the gh-pages branch of the repository named in _config.yml (GitHub Pages
# serves it from there); needs `repository.url` set and push access.
publish: site
	@grep -Eq '^  url: "?https?://' _config.yml || { echo "set repository.url in _config.yml first"; exit 1; }
	$(BIN)/ghp-import --no-jekyll --push --force $(BUILD)/html

release: $(STAMP)
	$(BIN)/python -m autograder release

# WORKERS=N grades N submissions at once; UNSANDBOXED=1 grades without bubblewrap (refused otherwise)
WORKERS ?= 1
UNSANDBOXED ?=
grade: release
	UNSANDBOXED=$(UNSANDBOXED) $(BIN)/python -m autograder grade --workers $(WORKERS)

demo: release
	$(BIN)/python -m autograder demo

course: site demo
	@echo
	@echo "The site:          $(BUILD)/html/index.html"
	@echo "The releases:      notebooks/<NN_slug>/<NN_slug>.ipynb"
	@echo "The grades:        autograder/grades.csv"
	@echo "The feedback:      autograder/feedback/<student>/<NN_slug>/<NN_slug>.html"

# The slowest stages are printed at the end: the pages' execution times, then pytest's.
test: site
	$(BIN)/python -m pytest lib/tests tests --durations=15
	@$(BIN)/jcache cache -p $(CACHE) list

bench: $(STAMP)
	@for script in bench/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

# The course's table of language models on one corpus (rnnlab.reproduce), into runs/; run it
# again after an interruption to resume. CORPUS: synthetic, docstrings, wikitext2 or ptb;
# CONFIG: tiny, course, small or medium (default: course for synthetic and docstrings, else small);
# EPOCHS: the configuration's epochs overridden (chapter 08's WikiText-2 table: EPOCHS=6).
CORPUS ?= synthetic
CONFIG ?=
EPOCHS ?=
reproduce: $(STAMP)
	$(BIN)/python -m rnnlab.reproduce --corpus $(CORPUS) $(if $(CONFIG),--config $(CONFIG)) $(if $(EPOCHS),--epochs $(EPOCHS))

clean:
	rm -rf $(BUILD) autograder/downloaded autograder/submitted autograder/autograded autograder/feedback \
	       autograder/gradebook.db autograder/grades.csv
