"""`python -m bench NAME`: run one benchmark (or `all`) and print its table."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = {
    "memory": "bench.memory_store",
}


def main(argv: list[str]) -> int:
    names = argv or ["all"]
    if names == ["all"]:
        names = list(BENCHMARKS)
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark {unknown[0]!r}; choose from: all, {', '.join(BENCHMARKS)}")
        return 2
    for name in names:
        importlib.import_module(BENCHMARKS[name]).main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
