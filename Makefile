# Two entry points: `make train` (the main job on the embedded default) and `make test` (the whole suite);
# `make docs` builds the documentation site into _docs/ (Quarto's nbdev_docs when quarto is installed, else nbconvert).
# Each creates .venv and installs the pinned stack on first use.
SHELL := /bin/bash
VENV  := .venv
BIN   := $(VENV)/bin
STAMP := $(VENV)/.srl_nb-installed

.PHONY: train test docs install export clean-nbs bench-gpu

$(STAMP): requirements.txt settings.ini setup.py
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

# `make train` prints the notebook's outputs as they come (--log-output), the training's progress lines among them,
# and ends with the final metrics and where the figures are.
train: $(STAMP)
	mkdir -p runs
	HF_HUB_OFFLINE=1 TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/papermill --log-output --no-progress-bar nbs/10_train_movi.ipynb runs/train_movi.ipynb
	$(BIN)/python -c "from srl_nb.cli import run_summary; run_summary('runs/train_movi')"
	@echo "executed notebook: runs/train_movi.ipynb"

test: $(STAMP)
	export HF_HUB_OFFLINE=1 TF_CPP_MIN_LOG_LEVEL=2 PATH=$(CURDIR)/$(BIN):$$PATH; \
	nbdev_test --n_workers 2 --timing; nb=$$?; pytest -q tests; py=$$?; \
	test $$nb -eq 0 && test $$py -eq 0

# Refreshes nbs/index.ipynb's outputs, README.md and nbs/sidebar.yml, then builds the site. Without Quarto every
# notebook is executed as nbdev_test would (about as long as nbdev_test); DOCS_FLAGS=--no-execute renders the
# committed outputs instead.
docs: $(STAMP)
	export HF_HUB_OFFLINE=1 TF_CPP_MIN_LOG_LEVEL=2 PATH=$(CURDIR)/$(BIN):$$PATH; \
	if command -v quarto >/dev/null 2>&1; then \
	  python -m srl_nb.docsite readme && python -m srl_nb.docsite sidebar && nbdev_docs && python -m srl_nb.docsite readme; \
	else \
	  python -m srl_nb.docsite docs $(DOCS_FLAGS); \
	fi

# The GPU benchmark (notebook 13): rows printed as they are measured, tables in runs/bench. Without CUDA it says so
# and exits with status 2; `$(BIN)/python -m srl_nb.bench --device cpu --tiny --out runs/bench` checks it on a CPU.
bench-gpu: $(STAMP)
	HF_HUB_OFFLINE=1 TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python -m srl_nb.bench --out runs/bench

export: $(STAMP)
	$(BIN)/nbdev_export && $(BIN)/nbdev_clean
