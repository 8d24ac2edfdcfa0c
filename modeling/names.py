"""Name conversions shared by validation (suggestions) and code generation."""

from __future__ import annotations

import re


def snake_case(name: str) -> str:
    """PlaceOrder -> place_order, HTTPError -> http_error, "My Shop" -> my_shop."""
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower()
