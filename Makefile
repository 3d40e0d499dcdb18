# Faucon: `make demo` and `make test` set up everything they need (idempotent).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.faucon-installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
AIRFLOW_VENV := .venv-airflow
AIRFLOW_VERSION := 3.3.2
AIRFLOW_STAMP := $(AIRFLOW_VENV)/.faucon-airflow-$(shell cat dags/airflow-constraints.txt | sha1sum | cut -c1-12)
JARS_STAMP := $(VENV)/.faucon-jars-$(shell cat deploy/maven/*/pom.xml broker/kafka/jars.py | sha1sum | cut -c1-12)
PYTEST_ARGS ?=
# Setup output (pip, Maven, apt) goes here; each step prints one line.
SETUP_LOG := .state/logs/setup.log
QUIET := bash deploy/quiet.sh $(SETUP_LOG)

.PHONY: setup setup-core compose-tool portal-tools airflow-setup demo test lint unit integration clean distclean

# What the broker and the demo need: the venv and the Kafka/Spark jars.
setup-core: $(STAMP) $(JARS_STAMP)

# Everything the tests need on top: the compose tool, the portal's test tools, the Airflow venv.
setup: setup-core compose-tool portal-tools $(AIRFLOW_STAMP)

# Airflow 3 in its own venv: its ~110 packages never move the broker's pins.
# DAG tasks call the broker's entry points in .venv. No Spark provider (it
# would pull pyspark-client, which overwrites pyspark's files).
airflow-setup: $(AIRFLOW_STAMP)

$(AIRFLOW_STAMP): dags/airflow-constraints.txt
	@test -x $(AIRFLOW_VENV)/bin/python || $(PYTHON) -m venv $(AIRFLOW_VENV)
	@$(QUIET) "Airflow venv: pip" $(AIRFLOW_VENV)/bin/python -m pip install --quiet --upgrade pip
	@$(QUIET) "Airflow $(AIRFLOW_VERSION) (its own venv, log: $(SETUP_LOG))" $(AIRFLOW_VENV)/bin/python -m pip install --quiet "apache-airflow==$(AIRFLOW_VERSION)" -c dags/airflow-constraints.txt
	@rm -f $(AIRFLOW_VENV)/.faucon-airflow-*
	@touch $@

# A Compose implementation for tests/deploy (`config` needs no Docker engine);
# installs Debian's docker-compose when none is found. Fast when present.
compose-tool:
	@$(QUIET) "Compose tool (for the deployment tests)" bash deploy/compose/ensure_compose_tool.sh

# Debian's chromium and chromium-driver (the portal's browser tests) and postgresql
# (its PostgreSQL store tests), installed with apt-get when missing. Fast when present.
portal-tools:
	@$(QUIET) "Chromium, ChromeDriver and PostgreSQL (for the portal tests)" bash deploy/portal/ensure_test_tools.sh

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run make PYTHON=/path/to/python3.11"; exit 1; }
	@command -v java >/dev/null || { echo "error: java not found; install a JDK 17 (e.g. apt-get install openjdk-17-jdk-headless)"; exit 1; }
	@command -v mvn >/dev/null || { echo "error: mvn not found; install Maven (e.g. apt-get install maven)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(QUIET) "Python venv: pip" $(BIN)/python -m pip install --quiet --upgrade pip
	@$(QUIET) "Python packages into $(VENV) (log: $(SETUP_LOG))" $(BIN)/python -m pip install --quiet -e ".[dev]"
	@rm -f $(VENV)/.faucon-installed-*
	@touch $@

$(JARS_STAMP): $(STAMP) deploy/maven/kafka/pom.xml deploy/maven/spark-kafka/pom.xml
	@$(QUIET) "Apache Kafka and spark-sql-kafka jars (Maven)" $(BIN)/python -m broker.kafka.jars
	@rm -f $(VENV)/.faucon-jars-*
	@touch $@

demo: setup-core
	@$(BIN)/faucon demo

lint: setup-core
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy broker streams classifiers dags

test: setup lint
	$(BIN)/pytest $(PYTEST_ARGS)

unit: setup
	$(BIN)/pytest -m "not integration" $(PYTEST_ARGS)

integration: setup
	$(BIN)/pytest -m integration $(PYTEST_ARGS)

clean:
	-$(BIN)/faucon airflow stop 2>/dev/null
	-$(BIN)/faucon kafka stop 2>/dev/null
	rm -rf .state .pytest_cache .mypy_cache .ruff_cache

distclean: clean
	rm -rf $(VENV) $(AIRFLOW_VENV)
