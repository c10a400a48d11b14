# `make test` works on a fresh machine with only Python 3.11 and make.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
# The CPU build of torch; installing it first keeps pip from pulling a multi-GB CUDA build.
TORCH  := torch==2.13.0

.PHONY: install browser test demo serve lint bench clean

# The package alone (what `make demo` needs), then with every extra and the test tools.
$(VENV)/.installed-base: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.installed: $(VENV)/.installed-base
	$(PY) -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

# Debian's Chromium for the browser test (Playwright drives it; nothing is downloaded by Playwright).
# Without root or apt the browser test is skipped, saying why.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	  || echo "make: no chromium (needs root and apt); the browser test will be skipped"

# ruff, then the import layers of docs/ARCHITECTURE.md (pyproject.toml [tool.importlinter]), then the tests.
test: install browser
	$(PY) -m ruff check src tests benchmarks scripts
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q

# The bundled model on the bundled images: out/grid.png, out/CONTENT__STYLE.jpg, time per image.
demo: $(VENV)/.installed-base
	$(VENV)/bin/waestyle demo --out out --overwrite

serve: install
	$(VENV)/bin/waestyle serve

bench: install
	$(PY) benchmarks/bench_peer.py
	$(PY) benchmarks/bench_speed.py
	$(PY) benchmarks/bench_spatial.py
	$(PY) benchmarks/bench_refine.py
	$(PY) benchmarks/bench_scale.py
	$(PY) benchmarks/bench_serve.py
	$(PY) benchmarks/bench_serve.py --requests 12 --concurrency 12 --megapixels 20

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache
