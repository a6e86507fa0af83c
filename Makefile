# wirestream: the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
WS     := $(VENV)/bin/wirestream
STAMP  := $(VENV)/.installed
SHARED_DATA ?= $(abspath ../shared/data)

.PHONY: run down test test-unit test-integration test-tansu bench chaos eval docs screenshots venv lock clean

## Create the virtual environment and install wirestream with everything it needs from PyPI.
venv: $(STAMP)
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## The main job on the embedded default: noida-db + four services, ingest samples, show search results.
run: venv
	WIRESTREAM_SHARED_DATA=$(SHARED_DATA) $(WS) demo

## Stop everything `make run` started.
down:
	@if [ -x $(WS) ]; then $(WS) down; else echo "nothing to stop (no $(VENV))"; fi

## Unit and integration tests; the test session starts its own noida-db and services on free ports.
test: venv
	WIRESTREAM_SHARED_DATA=$(SHARED_DATA) $(PY) -m pytest -q -ra

test-unit: venv
	WIRESTREAM_SHARED_DATA=$(SHARED_DATA) $(PY) -m pytest -q -ra tests/unit

test-integration: venv
	WIRESTREAM_SHARED_DATA=$(SHARED_DATA) $(PY) -m pytest -q -ra tests/integration

## The integration tier again with tansu, a second Kafka implementation, speaking Kafka (cross-check).
test-tansu: venv
	$(PY) -m pip install --quiet -e '.[dev,crosscheck]'
	WIRESTREAM_TEST_KAFKA=tansu WIRESTREAM_SHARED_DATA=$(SHARED_DATA) $(PY) -m pytest -q -ra tests/integration

## Speed and memory figures, written to bench/results/*.json (never asserted in tests).
bench: venv
	WIRESTREAM_SHARED_DATA=$(SHARED_DATA) $(PY) -m bench.run

## Fault injection: 5,000 stories while services are killed, the broker restarted, Elasticsearch
## stopped...; writes bench/results/chaos.json (expected, indexed, lost, duplicated per scenario).
chaos: venv
	WIRESTREAM_SHARED_DATA=$(SHARED_DATA) $(PY) -m bench.chaos

## Language-ID and NER quality against ../shared/data, written to eval/results.json.
eval: venv
	WIRESTREAM_SHARED_DATA=$(SHARED_DATA) $(PY) -m eval.run

## PNGs of the desk's search, story and pipeline pages into docs/img/ (own stack on free ports; needs chromium).
screenshots: venv
	WIRESTREAM_SHARED_DATA=$(SHARED_DATA) $(PY) -m tools.screenshots

## Regenerate docs/configuration.md from the settings classes.
docs: venv
	$(WS) config --markdown > docs/configuration.md

## Regenerate requirements.lock (the image's pinned, hashed dependencies) after changing pyproject.toml.
lock: venv
	$(PY) -m pip install --quiet 'uv>=0.5'
	echo 'setuptools>=77' | $(VENV)/bin/uv pip compile pyproject.toml - --generate-hashes \
	  --python-version 3.11 --python-platform x86_64-unknown-linux-gnu \
	  --custom-compile-command "make lock" --quiet -o requirements.lock

clean: down
	rm -rf .run .pytest_cache
