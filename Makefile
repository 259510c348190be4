# The README's two commands: `make run` and `make test`. Both create .venv/ from the committed lock when it
# is missing or older than the lock.
PYTHON ?= python3
VENV := .venv
UV_VERSION := 0.13.9

CHROMIUM := /usr/bin/chromium
DOT := /usr/bin/dot
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# The pipeline images: $(IMAGE):dev (CPU), $(IMAGE):dev-gpu and $(IMAGE):dev-tpu.
IMAGE ?= visionflow

.PHONY: run test install lock clean images docker-engine

$(VENV)/.installed: requirements/dev.txt requirements/no-deps.txt setup.py
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(VENV)/bin/uv pip install --python $(VENV)/bin/python --index-url https://pypi.org/simple \
		--no-deps --requirement requirements/dev.txt
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --ignore-requires-python \
		--requirement requirements/no-deps.txt
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation --editable .
	# Bytecode for every installed module, written once: uv writes none, and where PYTHONDONTWRITEBYTECODE is
	# set (CI machines) every process would compile again each source it imports, 10 s of a 19 s `import tfx`.
	$(VENV)/bin/python -m compileall -q -j 0 $(VENV)/lib
	touch $@

install: $(VENV)/.installed

run: install
	$(VENV)/bin/visionflow run $(ARGS)

# The inspection UI's browser tests drive Debian's chromium (Playwright cannot download a browser here).
$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium fonts-dejavu-core

# The inspection UI lays out a run's DAG with Graphviz's dot; `make run` does not need it.
$(DOT):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq graphviz

docker-engine:
	scripts/docker-engine.sh

images: docker-engine
	scripts/build-images.sh $(IMAGE) cpu gpu tpu

# The linter first (ruff.toml; the import rules are tests/test_import_rules.py), then the suite. The container
# tests run the compiled DAG in the CPU image: it is (re)built first, from Docker's cache.
test: install $(CHROMIUM) $(DOT) docker-engine
	$(VENV)/bin/ruff check .
	scripts/build-images.sh $(IMAGE) cpu
	VISIONFLOW_TEST_IMAGE=$(IMAGE):dev $(VENV)/bin/python -m pytest $(PYTEST_ARGS)

lock:
	scripts/lock.sh

clean:
	rm -rf $(VENV) visionflow_output
