# `make test` works on a fresh machine with only Python 3.11 and make.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
# The CPU build of torch; installing it first keeps pip from pulling a multi-GB CUDA build.
TORCH  := torch==2.13.0

.PHONY: install test demo lint bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

test: install
	$(PY) -m ruff check src tests benchmarks
	$(PY) -m pytest -q

# The bundled model on the bundled images: out/grid.png, out/CONTENT__STYLE.jpg, time per image.
demo: install
	$(VENV)/bin/waestyle demo --out out --overwrite

bench: install
	$(PY) benchmarks/bench_speed.py
	$(PY) benchmarks/bench_spatial.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache
