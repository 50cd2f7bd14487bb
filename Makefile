# aiida-polymer: two commands on a fresh Debian machine.
#   make demo   install everything, set up a project-local AiiDA profile, run the main job
#   make test   install everything and run the whole test suite
SHELL := /bin/bash
VENV := .venv
PYTHON ?= $(shell scripts/find-python.sh)
export AIIDA_PATH := $(CURDIR)/.aiida
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
STAMP := $(VENV)/.installed

.PHONY: demo test install system-deps profile lint benchmark clean-profile gui

demo: install profile
	aiida-polymer demo

test: install
	$(VENV)/bin/python -m pytest -q -ra

install: system-deps $(STAMP)

system-deps:
	@scripts/system-deps.sh

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || exit 1
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q -e '.[tests,gui]'
	@touch $(STAMP)

profile: install
	aiida-polymer setup

gui: install
	aiida-polymer gui

lint: install
	$(VENV)/bin/ruff check aiida_polymer tests benchmarks
	$(VENV)/bin/ruff format --check aiida_polymer tests benchmarks

benchmark: install
	taskset -c 0 $(VENV)/bin/python benchmarks/build_cell.py

clean-profile:
	rm -rf .aiida
