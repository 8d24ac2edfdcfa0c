#!/bin/bash
# usage (from the repository root): bash bench/ir.sh MODULE MODE -> total instructions (Ir)
# e.g. bash bench/ir.sh bench.ir_command pay, bash bench/ir.sh bench.ir_decode decode;
# deterministic, unlike timings (valgrind runs a mode in about a minute).
PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file=/dev/null .venv/bin/python -m "$1" "$2" 2>&1 | grep -o "Collected : [0-9]*" | grep -o "[0-9]*"
