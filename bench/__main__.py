"""`python -m bench NAME [OPTIONS]`: run one benchmark (or `all`) and print its table."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = {
    "memory": "bench.memory_store",
    "jetstream": "bench.jetstream_store",
    "codegen": "bench.codegen_speed",
    "bus": "bench.bus",
    "reactions": "bench.reactions",
    "cluster": "bench.cluster",
    "app": "bench.app",
    "concurrency": "bench.concurrency",
    "actors": "bench.actors",
    "contention": "bench.contention",
}


def main(argv: list[str]) -> int:
    name, options = (argv[0], argv[1:]) if argv else ("all", [])
    if name != "all" and name not in BENCHMARKS:
        print(f"unknown benchmark {name!r}; choose from: all, {', '.join(BENCHMARKS)}")
        return 2
    for chosen in BENCHMARKS if name == "all" else [name]:
        importlib.import_module(BENCHMARKS[chosen]).main(options)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
