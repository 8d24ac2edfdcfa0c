"""Field types that need help to survive JSON exactly."""

from __future__ import annotations

import base64
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer


def _from_base64(value: object) -> object:
    # Stored events carry bytes as base64 text; Python callers pass bytes.
    if isinstance(value, str):
        return base64.b64decode(value.encode("ascii"), validate=True)
    return value


def _to_base64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


JsonBytes = Annotated[
    bytes,
    BeforeValidator(_from_base64),
    PlainSerializer(_to_base64, return_type=str, when_used="json"),
]
"""bytes in Python, base64 text in JSON: round-trips any bytes, not only UTF-8."""
