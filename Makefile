# The two commands README promises: `make demo` and `make test`.
.PHONY: setup demo test lint typecheck unit bench

setup:
	@bash scripts/setup.sh

demo: setup
	.venv/bin/python -m examples.runtime_tour

lint: setup
	.venv/bin/ruff check .

typecheck: setup
	.venv/bin/mypy --strict aether modeling codegen tests bench

unit: setup
	.venv/bin/pytest

test: lint typecheck unit

bench: setup
	.venv/bin/python -m bench all
