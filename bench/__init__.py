"""Benchmarks: `python -m bench NAME` prints a table of ours vs a named baseline."""
