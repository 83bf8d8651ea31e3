# Two entry points: `make train` (the main job on the embedded default) and `make test` (the whole suite).
# Each creates .venv and installs the pinned stack on first use.
SHELL := /bin/bash
VENV  := .venv
BIN   := $(VENV)/bin
STAMP := $(VENV)/.srl_nb-installed

.PHONY: train test install export clean-nbs

$(STAMP): requirements.txt settings.ini setup.py
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

train: $(STAMP)
	mkdir -p runs
	HF_HUB_OFFLINE=1 $(BIN)/papermill nbs/00_core.ipynb runs/00_core.ipynb

test: $(STAMP)
	export HF_HUB_OFFLINE=1 TF_CPP_MIN_LOG_LEVEL=2 PATH=$(CURDIR)/$(BIN):$$PATH; \
	nbdev_test --n_workers 2 --timing; nb=$$?; pytest -q tests; py=$$?; \
	test $$nb -eq 0 && test $$py -eq 0

export: $(STAMP)
	$(BIN)/nbdev_export && $(BIN)/nbdev_clean
