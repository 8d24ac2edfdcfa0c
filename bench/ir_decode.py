"""Instruction-count harness for decoding (run under valgrind, see bench/ir.sh):
python -m bench.ir_decode MODE, MODE one of prep (20,000 payloads like bench/bus.py's),
decode (prep + decode_record of each, as a bus node does), decode_stored (the same with
stored=True, as a store reads). Per event: (Ir(decode) - Ir(prep)) / 20000.
"""

import sys

from aether.event import Event, decode_record
from bench.bus import _event

COUNT = 20_000


def main(mode: str) -> None:
    payloads = [_event(index + 1).model_dump_json().encode() for index in range(COUNT)]
    if mode.startswith("decode"):
        stored = mode == "decode_stored"
        for payload in payloads:
            decode_record(Event, payload, stored=stored)


main(sys.argv[1])
