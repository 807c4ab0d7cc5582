# Two commands on a fresh machine: `make demo` and `make test`. Each builds .venv itself.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench clean browser

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip uv
	$(VENV)/bin/uv pip install --quiet --python $(PY) --compile-bytecode -e ".[test,bench]"
	$(PY) -m compileall -q src
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/ctssw demo --out ctssw-demo

# The report's browser test drives Debian's chromium; install it once (skipped when it is there).
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; }

# Two workers, one test file each at a time: module-scoped servers (the Spark cluster, the
# replay server) start once per file, and the machine's two cores are both used. The longest
# files go first (tests/conftest.py, tests/durations.json).
test: $(STAMP) browser
	$(PY) -m pytest -n 2 --dist loadfile

bench: $(STAMP)
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) ctssw-demo .pytest_cache test-artefacts
