# Teman Migrasi — the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
VENV_HOME ?= $(or $(TEMAN_VENV_HOME),$(HOME)/.cache/teman-migrasi)
export TEMAN_VENV_HOME := $(VENV_HOME)
RASA_PY := $(VENV_HOME)/rasa/bin/python
ACTIONS_PY := $(VENV_HOME)/actions/bin/python
export PYTHONPATH := $(CURDIR)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
RASA_URL ?= http://127.0.0.1:5005
FILE ?= ../shared/eval/sample.yml

.PHONY: help setup run test test-unit test-e2e lint validate index train eval eval-all bench cases clean

help:
	@echo "make run    - set up, build, train (when needed) and chat on http://localhost:5005/demo/"
	@echo "make test   - set up and run every test (unit, data validation, end-to-end)"
	@echo "make eval FILE=cases.yml - run a case file against the running bot; LOO accuracy"
	@echo "make bench  - retrieval latency, index build time, Rasa throughput/memory vs stock Rasa"
	@echo "make index  - rebuild the search index after editing knowledge/"
	@echo "make cases ARGS='list' - staff: list/show/export/close hand-off cases"

setup:
	@scripts/setup_env.sh all

run:
	@scripts/run_bot.sh

index: setup
	@$(ACTIONS_PY) -m actions.retrieval.build

train: setup
	@scripts/train.sh

lint: setup
	@$(ACTIONS_PY) -m ruff check actions bot tests scripts

validate: setup
	@$(RASA_PY) -m bot.nlu.knowledge_examples >/dev/null
	@$(ACTIONS_PY) -m actions.knowledge.check
	@cd $(CURDIR) && $(VENV_HOME)/rasa/bin/rasa data validate --config config.yml --domain bot/domain.yml --data bot/data --quiet

test-unit: setup
	@scripts/setup_browser.sh
	$(ACTIONS_PY) -m pytest tests/actions -q
	$(RASA_PY) -m pytest tests/bot -q -p no:cacheprovider

test-e2e: setup
	@scripts/setup_browser.sh
	$(ACTIONS_PY) -m pytest tests/e2e -q

test: lint validate test-unit test-e2e

eval: setup
	@$(ACTIONS_PY) -m actions.evaluation.loo
	@$(ACTIONS_PY) -m actions.evaluation.run_cases --url $(RASA_URL) $(FILE)

eval-all: setup
	@$(ACTIONS_PY) -m actions.evaluation.loo
	@$(ACTIONS_PY) -m actions.evaluation.run_cases --url $(RASA_URL) ../shared/eval/sample.yml tests/eval_sets/*.yml

bench: setup
	@scripts/bench.sh

cases: setup
	@$(ACTIONS_PY) -m actions.cases.cli $(ARGS)

clean:
	rm -rf var models bot/data/generated tests/artifacts
