# livecart: every target sets itself up on a fresh machine (Python 3.11+, make, Node.js, npm).
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
VENDOR := src/livecart/web/static/vendor

.PHONY: install run demo test lint typecheck importlint pytest migrate bench clean

install: .venv/.installed $(VENDOR)/.installed

.venv/.installed: pyproject.toml uv.lock
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || \
		python3 -m pip install --quiet uv || python3 -m pip install --quiet --break-system-packages uv
	$(UV) sync --frozen --compile-bytecode
	@touch $@

$(VENDOR)/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@mkdir -p $(VENDOR)
	cp node_modules/htmx.org/dist/htmx.min.js $(VENDOR)/htmx.min.js
	cp node_modules/echarts/dist/echarts.min.js $(VENDOR)/echarts.min.js
	cp node_modules/hls.js/dist/hls.min.js $(VENDOR)/hls.min.js
	@touch $@

migrate: install
	$(UV) run livecart db upgrade

## run: install, migrate, seed the demo world and serve it on http://127.0.0.1:8000
run: migrate
	$(UV) run livecart demo

## test: install, then ruff, mypy, import-linter and pytest
test: install lint typecheck importlint pytest

lint:
	$(UV) run ruff check src tests migrations bench
	$(UV) run ruff format --check src tests migrations bench

typecheck:
	$(UV) run mypy

importlint:
	$(UV) run lint-imports

pytest:
	$(UV) run pytest

## bench: flash-sale burst (vs FOR UPDATE and a no-op) and fan-out (vs broadcast()) benchmarks (docs/benchmarks.md); not part of test
bench: install
	$(UV) run python -m bench


clean:
	rm -rf .venv node_modules $(VENDOR) .pytest_cache .mypy_cache .ruff_cache
