# microseg: `make run` builds the warehouse end to end, `make test` runs the tests.
# Both bootstrap what they need (uv, the locked environment, dbt's manifest) and are safe to rerun.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# `make run SOURCES=my_sources.yml`: the same pipeline on your own exports (the demo off), in a warehouse
# of its own (data/own/), so the demo's tables and yours never mix.
ifdef SOURCES
export MICROSEG_SOURCES := $(abspath $(SOURCES))
export MICROSEG_DEMO ?= 0
export MICROSEG_WAREHOUSE ?= $(CURDIR)/data/own/warehouse.duckdb
endif
export MICROSEG_WAREHOUSE ?= $(CURDIR)/data/warehouse.duckdb
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
# The demo (a synthetic retailer loaded as the source "demo") is on unless MICROSEG_DEMO=0.
export MICROSEG_DEMO ?= 1
export DBT_PROFILES_DIR := $(CURDIR)/dbt_project
UI_HOST ?= 127.0.0.1
UI_PORT ?= 3000
DOCS_PORT ?= 8080
REPORT_PORT ?= 8090
MANIFEST := dbt_project/target/manifest.json
DBT_SOURCES := $(shell find dbt_project/models dbt_project/macros dbt_project/tests -type f 2>/dev/null) dbt_project/dbt_project.yml

.PHONY: setup run test test-ui spark-extra test-spark test-spark-pipeline bench-smoke ui sql docs report clean help

help:
	@echo "make run    generate demo data and materialise every asset through Dagster"
	@echo "make run SOURCES=my_sources.yml   the same on your own exports (see README: your own data)"
	@echo "make test   run the test suite"
	@echo "make ui     Dagster UI (and daemon) on http://$(UI_HOST):$(UI_PORT)"
	@echo "make sql    read-only SQL shell on the published snapshot of the last complete run"
	@echo "make docs   build and serve dbt docs on http://$(UI_HOST):$(DOCS_PORT)"
	@echo "make report build the segment report from the warehouse and serve it on http://$(UI_HOST):$(REPORT_PORT)"
	@echo "make test-ui  drive the Dagster UI in headless Chromium (installs Debian's chromium)"
	@echo "make test-spark  the same features, segments and profiles on Spark as on DuckDB (installs Java 17, the spark extra)"
	@echo "make test-spark-pipeline  every asset and the daily path on Spark, and the same segments, scores, marts and audiences as on DuckDB"
	@echo "make bench-smoke  the end-to-end benchmark at 100k customers (prints figures, asserts nothing)"

# uv: use the one on PATH, else install it with pip (uv installs the stack in seconds).
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := $(PYTHON) -m uv
endif

# uv sync is exact: once `make test-spark` has added the spark extra (marker file), later syncs keep it.
SPARK_MARKER := $(VENV)/.with-spark-extra
$(BIN)/python: pyproject.toml uv.lock
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	$(UV) sync --frozen --quiet $(if $(wildcard $(SPARK_MARKER)),--extra spark)
	@touch $@

$(MANIFEST): $(BIN)/python $(DBT_SOURCES)
	cd dbt_project && ../$(BIN)/dbt parse --quiet
	@touch $@

# The project-local instance follows dagster.yaml; an instance of your own (DAGSTER_HOME set) is never overwritten.
$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	@mkdir -p $(DAGSTER_HOME)
	@if [ "$(DAGSTER_HOME)" = "$(CURDIR)/.dagster_home" ] || [ ! -f $@ ]; then cp dagster.yaml $@; \
	else echo "Keeping your $@; microseg's instance settings are in dagster.yaml"; fi

setup: $(BIN)/python $(MANIFEST) $(DAGSTER_HOME)/dagster.yaml

# One line per step on the terminal; the steps' full output (dbt's log) goes to RUN_LOG.
RUN_LOG ?= $(dir $(MICROSEG_WAREHOUSE))logs/make_run.log
# The preflight first: a run killed earlier (its process gone) is marked failed and frees its pool slot.
# `make run JOB=score_customers RUN_CONFIG=my_run.yaml`: another job, or run config of your own.
JOB ?= full_pipeline
RUN_CONFIG ?= orchestration/make_run.yaml
run: setup
	@mkdir -p $(dir $(RUN_LOG))
	@$(BIN)/python -m orchestration.cli preflight
	@echo "Running $(JOB) (demo mode: $(MICROSEG_DEMO)); the steps' full output goes to $(RUN_LOG)"
	@VIRTUAL_ENV=$(CURDIR)/$(VENV) $(BIN)/dg launch --job $(JOB) --config $(RUN_CONFIG) \
		> $(RUN_LOG) || { echo "$(JOB) failed: see the lines above and $(RUN_LOG)"; exit 1; }
	@$(BIN)/python -m orchestration.cli summary

test: setup
	$(BIN)/pytest -m "not ui and not spark and not spark_pipeline" -n 2 --dist loadfile

# Browser test of the Dagster UI: Debian's Chromium (browser downloads do not work offline).
test-ui: setup
	@test -x /usr/bin/chromium || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
	$(BIN)/pytest -m ui

# The Spark engine (tests/spark): Java 17 (Debian's, installed if absent) and the spark extra (pyspark).
spark-extra: setup
	@command -v java >/dev/null || { apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless >/dev/null; }
	$(UV) sync --frozen --quiet --extra spark
	@touch $(SPARK_MARKER)

# The engines' equivalence: the same features, scoring SELECT and profiles on Spark local[2] as on DuckDB, from
# the same raw tables, each built by Dagster runs.
test-spark: spark-extra
	$(BIN)/pytest -m spark

# Every asset on Spark, then the daily path there, against DuckDB's: segmentation, scores, marts, membership
# history, audiences, report, snapshot.
test-spark-pipeline: spark-extra
	$(BIN)/pytest -m spark_pipeline

# The scale path's smoke test (CI runs it): the pipeline, its floor and the notebook peer at 100k customers,
# in a scratch folder of its own. It prints figures and ratios; speed is never asserted.
BENCH_CUSTOMERS ?= 100000
BENCH_DIR ?= $(CURDIR)/data/bench
bench-smoke: setup
	$(BIN)/python benchmarks/end_to_end.py --customers $(BENCH_CUSTOMERS) --workdir $(BENCH_DIR)

ui: setup
	@$(BIN)/python -m orchestration.cli preflight
	$(BIN)/dg dev -h $(UI_HOST) -p $(UI_PORT)

# The published snapshot (the last complete run's marts, segments, audiences), never the live file:
# an open shell then never blocks a run, and a run never changes what the shell is reading.
sql: setup
	@snap=$$($(BIN)/python -c "from orchestration.lib.settings import snapshot_path; print(snapshot_path())"); \
	test -f "$$snap" || { echo "No published snapshot at $$snap yet: run 'make run' first."; exit 1; }; \
	echo "Reading $$snap (the last complete run; runs keep writing $(MICROSEG_WAREHOUSE))"; \
	$(BIN)/duckdb -readonly "$$snap"

docs: setup
	@test -f "$(MICROSEG_WAREHOUSE)" || { echo "No warehouse at $(MICROSEG_WAREHOUSE) yet: run 'make run' first (docs read its catalog)."; exit 1; }
	cd dbt_project && ../$(BIN)/dbt docs generate --quiet && ../$(BIN)/dbt docs serve --host $(UI_HOST) --port $(DOCS_PORT) --no-browser

# The same page the report asset writes, from the current warehouse; then serve the reports folder.
report: setup
	@$(BIN)/python -m orchestration.cli report
	@dir=$$($(BIN)/python -c "from orchestration.lib.settings import reports_path; print(reports_path())"); \
		echo "Serving $$dir on http://$(UI_HOST):$(REPORT_PORT)/latest/ (Ctrl-C to stop)"; \
		$(BIN)/python -m http.server --bind $(UI_HOST) --directory "$$dir" $(REPORT_PORT)

clean:
	rm -rf data $(DAGSTER_HOME) dbt_project/target dbt_project/logs
