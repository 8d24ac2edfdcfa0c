"""Safe bits of Python source: names, string literals, docstrings, JSON literals.

Everything model text can reach in generated code passes through here, so no
description, default or scenario value can end a string early or add code. Layout is
left to ``ruff format`` (see formatting.py); what it cannot break, a long string, is
written here as adjacent short pieces, so every line fits.

Text is kept readable but ASCII-safe: printable ASCII and the Latin-1/Latin Extended-A
letters stay as written; everything else (control characters, lone surrogates, and the
look-alike characters ruff's RUF001/RUF002 reject, such as a Cyrillic a (U+0430) or a curly
quote) becomes a ``\\u`` escape, so the value is exact and the file passes ruff.
"""

from __future__ import annotations

import math
import re
import textwrap
from typing import Any

from pydantic import JsonValue

from modeling.values import wrapped

LINE = 100
PIECE = 40  # longest piece of a long string literal (indentation can reach ~50 columns)
# Longest piece of a string with whitespace in it. A line with no whitespace past its
# indentation may run long (ruff's E501 lets it: a long word or URL has nowhere to
# break), so `field="no_space_text"` is never a problem; a space in the string makes the
# line count, and the key before it (`field=`, `"key": `, up to 50 columns with its
# indentation) leaves it room for less. ruff format joins pieces again where they fit.
SPACED_PIECE = 16
TEST_NAME = 60  # longest scenario part of a generated test name
MEMBER = 80  # longest `Enum.MEMBER`: ruff format puts it alone on a line at column 8
# Columns before a mapping entry of a generated test's value that is not nested in another
# (measured: 12 at most, in policy and read-model tests); each bracket around it adds 4.
ENTRY_INDENT = 20

# Letters ruff does not flag as confusable (measured); others are escaped.
_KEPT = frozenset(chr(code) for code in range(0xC0, 0x180)) - {"\u00d7", "\u0131", "\u017f"}


def identifier(text: str, taken: set[str], limit: int = TEST_NAME) -> str:
    """A fresh snake_case identifier made from free text (scenario names -> test names),
    at most ``limit`` characters before its numeric suffix."""
    base = re.sub(r"[^0-9a-zA-Z]+", "_", text).strip("_").lower() or "scenario"
    base = base[:limit].rstrip("_")
    if base[0].isdigit():
        base = f"n{base}"
    candidate, number = base, 2
    while candidate in taken:
        candidate, number = f"{base}_{number}", number + 1
    taken.add(candidate)
    return candidate


def constant(value: str) -> str:
    """An enum member name from its value: paid -> PAID (validate keeps these unique)."""
    return value.upper()


def member(enum: str, value: str) -> str:
    """The enum member of ``value``: ``Status.PAID``; ``Status["PAID"]`` when that would be
    too long for a line (ruff format can break a subscript, not an attribute)."""
    name = constant(value)
    if len(enum) + 1 + len(name) <= MEMBER:
        return f"{enum}.{name}"
    return f"{enum}[{string(name, 60)}]"  # names have at most 48 characters: one piece


def _escaped(char: str, quote: str = '"') -> str:
    if char == "\\" or char == quote:
        return "\\" + char
    if (" " <= char <= "~") or char in _KEPT:
        return char
    if char == "\n":
        return "\\n"
    if char == "\t":
        return "\\t"
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 \
        else f"\\U{code:08x}"


def docstring(text: str, indent: int) -> str:
    """A triple-quoted docstring holding ``text``, wrapped to fit the line limit once
    escaped, placed at column ``indent``."""
    width = max(20, LINE - indent - 6)
    lines: list[str] = []
    for paragraph in text.strip().splitlines() or [""]:
        lines += _wrap(paragraph.strip(), width) or [""]
    pad = " " * indent
    if len(lines) == 1:
        return f'"""{lines[0]}"""'
    # Blank lines stay empty (no trailing spaces): ruff format leaves docstrings that
    # start with a backslash escape as they are.
    body = "\n".join(f"{pad}{line}" if line and n else line for n, line in enumerate(lines))
    return f'"""{body}\n{pad}"""'


def _wrap(paragraph: str, width: int) -> list[str]:
    """Greedy word wrap measured on the escaped text; a word longer than a line is cut
    between escapes, never inside one."""
    lines: list[str] = []
    current = ""
    for word in paragraph.split():
        pieces = [_escaped(char) for char in word]
        escaped = "".join(pieces)
        if current and len(current) + 1 + len(escaped) <= width:
            current += " " + escaped
            continue
        if current:
            lines.append(current)
        current = ""
        for piece in pieces:
            if len(current) + len(piece) > width:
                lines.append(current)
                current = ""
            current += piece
    if current:
        lines.append(current)
    return lines


def comment(text: str) -> str:
    """``text`` as ``# `` comment lines within the line limit (a word too long for a line,
    such as a huge version number, is cut). The text must be safe already: one line, no
    control characters (callers pass names and numbers)."""
    return "\n".join(textwrap.wrap(text, LINE, initial_indent="# ", subsequent_indent="# ",
                                   break_on_hyphens=False))


def string(text: str, piece: int = PIECE) -> str:
    """A string literal holding ``text`` exactly; long text becomes adjacent pieces of at
    most ``piece`` characters (Python joins adjacent literals).

    Text with a space is cut shorter (SPACED_PIECE), and its first piece is what comes
    before the first space: when ruff format has to break it, the line the piece shares
    with a key (``field="first"``) then holds no whitespace, which E501 lets run long, and
    every later piece stands on a line of its own."""
    return _spaced([_escaped(char) for char in text], "", piece)


def _spaced(escaped: list[str], prefix: str, piece: int) -> str:
    """``string``'s cut, for text (``prefix`` "") and bytes (``prefix`` "b"). Short text
    with a space is cut too (ruff format joins it again where it fits): after a long key
    or field name, even ``"Ada B"`` can pass the limit."""
    if " " not in escaped:
        return _pieces(escaped, '"', prefix, piece)
    first = escaped.index(" ")
    head = "".join(escaped[:first])
    rest = _pieces(escaped[first:], '"', prefix, min(piece, SPACED_PIECE), whole=False)
    return f'{prefix}"{head}" {rest}'


def _pieces(escaped: list[str], quote: str, prefix: str, piece: int = PIECE,
            whole: bool = True) -> str:
    if whole and sum(map(len, escaped)) <= piece:
        return f"{prefix}{quote}{''.join(escaped)}{quote}"
    parts: list[str] = []
    current = ""
    for index, part in enumerate(escaped):
        current += part
        at_space = part == " " and len(current) >= piece // 2
        if len(current) >= piece or at_space or index == len(escaped) - 1:
            parts.append(f"{prefix}{quote}{current}{quote}")
            current = ""
    # No parentheses of our own: ruff format joins the pieces when they fit and puts them
    # one per line, adding parentheses where the syntax needs them, when they do not.
    return " ".join(parts)


def bytes_literal(data: bytes) -> str:
    return _spaced([_escaped(chr(byte)) if byte < 0x80 else f"\\x{byte:02x}" for byte in data],
                   "b", PIECE)


def literal(value: JsonValue) -> str:
    """A Python literal for a JSON value (ruff format lays it out)."""
    _check_finite(value)
    return _literal(value)


def _literal(value: Any, depth: int = 0) -> str:
    if isinstance(value, str):
        return string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_literal(item, depth + 1) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(
            entry(str(key), _literal(item, entry_depth(depth, wrapped(item, None))), depth + 1)
            for key, item in value.items()) + "}"
    return repr(value)  # None, bool, int, float


def entry_depth(depth: int, wrapped: bool) -> int:
    """The depth of a mapping's value, for the mapping at ``depth``: one level in, and one
    more when it may go in parentheses (what validate counts, modeling/values.py)."""
    return depth + 1 + wrapped


def entry(key: str, value: str, depth: int) -> str:
    """One ``key: value`` entry of a dict literal at ``depth`` (the brackets around the
    entry), from the key's text and the value's code. ruff format never breaks between a
    key and its value, and the ``": "`` there is whitespace E501 counts:

    - text (or bytes) starts with an empty piece, so ruff format can put all of it below the
      key where the entry does not fit (where it fits, ruff format joins the pieces again);
    - anything else goes in parentheses when the line it starts with the key could pass
      the limit: it then starts a line of its own (``Enum.MEMBER``, ``Name(``, a number:
      no whitespace, which E501 lets run long)."""
    literal = string(key, SPACED_PIECE)
    if value.startswith(('"', 'b"')):
        if len(value) > SPACED_PIECE // 2:
            value = f'{value[0]}"" {value}' if value[0] == "b" else f'"" {value}'
        return f"{literal}: {value}"
    head = re.match(r"[^([{]*[([{]?", value)
    width = (ENTRY_INDENT + 4 * depth + min(len(literal), SPACED_PIECE + 2) + len(": ")
             + len(head.group() if head else value))
    return f"{literal}: ({value})" if width > LINE else f"{literal}: {value}"


def _check_finite(value: Any) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise ValueError(f"{item!r} has no JSON form; use a finite number")
        if isinstance(item, list):
            stack += item
        elif isinstance(item, dict):
            stack += item.values()


def call(head: str, args: list[str], tail: str) -> str:
    """``head(arg, ...)tail`` (ruff format wraps it when long)."""
    return f"{head}({', '.join(args)}){tail}"
