"""Safe bits of Python source: names, string literals, docstrings, JSON literals.

Everything model text can reach in generated code passes through here, so no
description, default or scenario value can end a string early or add code.
"""

from __future__ import annotations

import math
import re
import textwrap
from typing import Any

from pydantic import JsonValue

LINE = 99  # generated code stays within ruff's limit of 100


def identifier(text: str, taken: set[str]) -> str:
    """A fresh snake_case identifier made from free text (scenario names -> test names)."""
    base = re.sub(r"[^0-9a-zA-Z]+", "_", text).strip("_").lower() or "scenario"
    if base[0].isdigit():
        base = f"n{base}"
    candidate, number = base, 2
    while candidate in taken:
        candidate, number = f"{base}_{number}", number + 1
    taken.add(candidate)
    return candidate


def constant(name: str) -> str:
    """An enum member name from its value: paid -> PAID."""
    return name.upper()


def docstring(text: str, indent: int) -> str:
    """A triple-quoted docstring holding ``text`` exactly, wrapped to fit the line limit."""
    width = max(20, LINE - indent - 6)
    lines: list[str] = []
    for paragraph in text.strip().splitlines() or [""]:
        lines += textwrap.wrap(paragraph, width, break_long_words=True,
                               break_on_hyphens=False) or [""]
    body = "\n".join(_escape_doc(line) for line in lines)
    pad = " " * indent
    if "\n" in body:
        body = body.replace("\n", "\n" + pad) + "\n" + pad
    return f'"""{body}"""'


def _escape_doc(line: str) -> str:
    # Every " is escaped, so no run of them can close the docstring, even at its end.
    line = line.replace("\\", "\\\\").replace('"', '\\"')
    return "".join(char if char.isprintable() else f"\\u{ord(char):04x}" for char in line)


def string(text: str) -> str:
    """A one-line string literal (repr escapes quotes, backslashes, control characters)."""
    return repr(text)


def literal(value: JsonValue, indent: int = 0) -> str:
    """A Python literal for a JSON value, wrapped to fit the line limit when placed at
    column ``indent``."""
    _check_finite(value)
    return _literal(value, indent)


def _literal(value: Any, indent: int, column: int | None = None) -> str:
    """``indent``: the indentation of the line the literal starts on; ``column``: where
    on that line it starts (defaults to ``indent``)."""
    start = indent if column is None else column
    flat = repr(value)
    if start + len(flat) <= LINE - 2:  # room for a trailing comma or bracket
        return flat
    inner = " " * (indent + 4)
    if isinstance(value, str):
        room = max(10, LINE - indent - 8)
        chunks, current = [], ""
        for char in value:
            if len(repr(current + char)) > room:
                chunks.append(current)
                current = ""
            current += char
        chunks.append(current)
        return "(\n" + "".join(f"{inner}{chunk!r}\n" for chunk in chunks) + " " * indent + ")"
    if isinstance(value, list):
        items = "".join(f"{inner}{_literal(item, indent + 4)},\n" for item in value)
        return "[\n" + items + " " * indent + "]"
    if isinstance(value, dict):
        items = "".join(
            f"{inner}{key!r}: {_literal(item, indent + 4, indent + 6 + len(repr(key)))},\n"
            for key, item in value.items())
        return "{\n" + items + " " * indent + "}"
    return flat


def _check_finite(value: Any) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{value!r} has no JSON form; use a finite number")
    if isinstance(value, list):
        for item in value:
            _check_finite(item)
    elif isinstance(value, dict):
        for item in value.values():
            _check_finite(item)


def call(head: str, args: list[str], tail: str, indent: int) -> list[str]:
    """``head(arg, ...)tail`` on one line when it fits, else one argument per line."""
    flat = f"{head}({', '.join(args)}){tail}"
    if indent + len(flat) <= LINE or not args:
        return [flat]
    return [f"{head}(", *(f"    {arg}," for arg in args), f"){tail}"]
