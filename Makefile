# One front door: the README, CI and developers all run these targets.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
EXT := vscode-extension
PYTEST_ARGS ?=

.PHONY: all setup demo test test-python test-extension test-editor editor-deps lint bench vsix clean

all: test

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "envlayers needs Python >= 3.11 to run"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=25.1"
	$(PY) -m pip install --quiet -e '.[uv]' --group dev
	touch $@

setup: $(VENV)/.installed

$(EXT)/node_modules/.installed: $(EXT)/package.json $(EXT)/package-lock.json
	cd $(EXT) && npm ci --no-audit --no-fund
	touch $@

demo: setup
	$(PY) examples/demo.py

test: test-python test-extension test-editor

# The Node wire client the LSP tests drive: the online step, so the tests can stay offline.
WIRE := tests/e2e/node_wire
$(WIRE)/node_modules/.installed: $(WIRE)/package.json $(WIRE)/package-lock.json
	cd $(WIRE) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

test-python: setup $(WIRE)/node_modules/.installed
	$(PY) -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

# The extension's unit and wire tests, then the .vsix: it must hold the server and its
# libraries, and the bundled server must start from them.
test-extension: setup $(EXT)/node_modules/.installed
	cd $(EXT) && npm test
	cd $(EXT) && npm run package
	cd $(EXT) && ENVLAYERS_TEST_VSIX=$$PWD/envlayers-0.1.0.vsix npm run test:vsix

# The real-VS-Code tier: the .vsix that test-extension packages, installed in code-server and
# driven through its UI by Playwright in Debian's chromium (.ci/debian-packages.sh installs it).
editor-deps: setup
	bash .ci/debian-packages.sh
	$(EXT)/editor-test/setup.sh

test-editor: editor-deps test-extension
	cd $(EXT) && ENVLAYERS_TEST_VSIX=$$PWD/envlayers-0.1.0.vsix node --test editor-test/editor.test.mjs

lint: setup
	$(PY) -m ruff check server tests
	$(PY) -m ruff format --check server tests
	$(PY) -m mypy server tests

bench: setup
	$(PY) bench/run.py

vsix: setup $(EXT)/node_modules/.installed
	cd $(EXT) && npm run package

clean:
	rm -rf $(VENV) $(EXT)/node_modules $(EXT)/out $(EXT)/dist $(EXT)/bundled build dist
