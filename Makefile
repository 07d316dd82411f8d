# Teman Migrasi — the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
VENV_HOME ?= $(or $(TEMAN_VENV_HOME),$(HOME)/.cache/teman-migrasi)
export TEMAN_VENV_HOME := $(VENV_HOME)
RASA_PY := $(VENV_HOME)/rasa/bin/python
ACTIONS_PY := $(VENV_HOME)/actions/bin/python
RASA_BIN := $(VENV_HOME)/rasa/bin/rasa
export PYTHONPATH := $(CURDIR)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
RASA_URL ?= http://127.0.0.1:5005
FILE ?= ../shared/eval/sample.yml
EVAL_SETS := ../shared/eval/sample.yml $(wildcard tests/eval_sets/*.yml) $(wildcard tests/eval_sets/dev/*.yml)

.PHONY: help setup run test test-unit test-e2e test-stories lint validate index train eval \
	eval-all eval-sealed eval-offers bench cases forget analytics report clean kb \
	validate-kb run-prod test-prod bench-prod fuzz

help:
	@echo "make run    - set up, build (when needed) and chat on http://localhost:5005/demo/"
	@echo "make run-prod - production mode: PostgreSQL, Redis, RabbitMQ, replicas behind nginx"
	@echo "make test   - set up and run every test (lint, data, unit, Rasa stories, end-to-end)"
	@echo "make eval FILE=cases.yml - run a case file against the running bot (RASA_API_TOKEN)"
	@echo "make eval-all   - the public sample, tests/eval_sets/*.yml and the dev set"
	@echo "make eval-sealed - the sealed set, figures only (start and end of a change)"
	@echo "make eval-offers - offer check on the advert set: per-flag P/R, text vs OCR"
	@echo "make bench  - decision latency, build times, throughput/memory vs stock Rasa"
	@echo "make kb ARGS='validate|build|ask|gaps|stale|export|import' - staff: the knowledge base"
	@echo "make index  - full rebuild of the search index (kb build --full)"
	@echo "make cases ARGS='list' - staff: list/show/export/close hand-off cases"
	@echo "make forget ARGS='--phone 0812...' - staff: delete one person's data on request"
	@echo "make report - analytics report (HTML with charts) in var/report/"

setup:
	@scripts/setup_system.sh
	@scripts/setup_env.sh all

run:
	@scripts/run_bot.sh

run-prod:
	@scripts/run_prod.sh

index: setup
	@$(ACTIONS_PY) -m tools.kb build --full

kb: setup
	@$(ACTIONS_PY) -m tools.kb $(ARGS)

# Every knowledge check of `kb validate` (errors fail; warnings are printed).
validate-kb: setup
	@$(ACTIONS_PY) -m tools.kb validate

train: setup
	@scripts/train.sh

lint: setup
	@$(ACTIONS_PY) -m ruff check actions bot teman tools tests scripts

validate: setup
	@$(ACTIONS_PY) -m tools.kb validate --fast
	@cd $(CURDIR) && $(RASA_BIN) data validate --config config.yml --domain bot/domain.yml \
		--data bot/data --quiet

test-unit: setup
	$(ACTIONS_PY) -m pytest tests/lib tests/actions -q
	$(RASA_PY) -m pytest tests/bot -q -p no:cacheprovider

test-stories: train
	@mkdir -p var && cd $(CURDIR) && $(RASA_BIN) test core --stories tests/stories --model models/current.tar.gz \
		--endpoints bot/endpoints.yml --out var/rasa-test --fail-on-prediction-errors --no-plot \
		> var/rasa-test.log 2>&1 || { tail -n 40 var/rasa-test.log; exit 1; }
	@echo "rasa test core: every test story predicted correctly (var/rasa-test/)"

test-e2e: setup
	$(ACTIONS_PY) -m pytest tests/e2e -q

test-prod: setup
	$(ACTIONS_PY) -m pytest tests/prod -q

fuzz: setup
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-2500} $(ACTIONS_PY) -m pytest tests/prod/test_fuzz.py -q

test: lint validate test-unit test-stories test-e2e test-prod

eval: setup
	@$(ACTIONS_PY) -m tools.evaluation.run_cases --url $(RASA_URL) $(FILE)

eval-all: setup
	@$(ACTIONS_PY) -m tools.evaluation.loo
	@$(ACTIONS_PY) -m tools.evaluation.run_cases --url $(RASA_URL) $(EVAL_SETS)
	@$(MAKE) --no-print-directory eval-offers

# Offer check ("cek lowongan") on the advert set: text path and OCR of rendered screenshots.
eval-offers: setup
	@$(ACTIONS_PY) -m tools.evaluation.offers --json-out var/eval/offers.json

eval-sealed: setup
	@$(ACTIONS_PY) -m tools.evaluation.run_cases --summary --url $(RASA_URL) \
		tests/eval_sets/sealed/sealed.yml

bench: setup
	@scripts/bench.sh
	@scripts/bench_prod.sh

bench-prod: setup
	@scripts/bench_prod.sh

cases: setup
	@$(ACTIONS_PY) -m tools.cases_cli $(ARGS)

forget: setup
	@$(ACTIONS_PY) -m tools.forget $(ARGS)

analytics: setup
	@$(ACTIONS_PY) -m teman.analytics.consumer

report: setup
	@$(ACTIONS_PY) -m tools.analytics_report $(ARGS)

clean:
	rm -rf var models tests/artifacts
