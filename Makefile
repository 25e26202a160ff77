# Every target sets up .venv itself on a fresh machine.
# torch is installed first, pinned, so pip takes the CPU wheel on this machine's disk instead of a CUDA build.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PIP := $(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt

.PHONY: venv venv-peers demo test test-unit test-integration lint bench clean system-deps

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) "torch==2.13.0"
	$(PIP) -e ".[ray,demo,metrics,dev]"
	# litdata's metadata asks for torchvision (served here only as a CUDA build) and boto3 (whose botocore wants
	# python-dateutil<3, pinned 4.0.0): install it and what it imports without the resolver, pinned in
	# constraints.txt, so tests/integration/test_stream_libraries.py runs it.
	$(PIP) --no-deps litdata obstore boto3 botocore s3transfer jmespath
	touch $(STAMP)

# benchmarks/peers.py: tf.data, Ray Data and torchdata.nodes beside stoker, in their own environment (not dev).
venv-peers: .venv-peers/.installed

.venv-peers/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv .venv-peers
	.venv-peers/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt "torch==2.13.0"
	.venv-peers/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[peers,fast]"
	touch .venv-peers/.installed

demo: $(STAMP)
	$(VENV)/bin/stoker demo

# The observability tests drive Debian's chromium (via chromedriver) and tmux; as root, install them
# when missing (a non-root run skips the browser test with its reason instead).
system-deps:
	@missing=""; \
	for p in chromium:/usr/bin/chromium chromium-driver:/usr/bin/chromedriver tmux:/usr/bin/tmux; do \
		[ -e "$${p#*:}" ] || missing="$$missing $${p%%:*}"; \
	done; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ]; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	elif [ -n "$$missing" ]; then echo "not root: missing$$missing (their tests skip)"; fi

test: $(STAMP) system-deps
	$(PY) -m pytest tests

test-unit: $(STAMP)
	$(PY) -m pytest tests/unit

test-integration: $(STAMP) system-deps
	$(PY) -m pytest tests/integration

lint: $(STAMP)
	$(VENV)/bin/ruff check --output-format concise stoker tests benchmarks examples
	$(VENV)/bin/ruff format --check stoker tests benchmarks examples
	$(VENV)/bin/mypy

bench: $(STAMP)
	for b in loader elastic partition ps hetero ray cluster; do $(VENV)/bin/stoker bench $$b --quick || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
