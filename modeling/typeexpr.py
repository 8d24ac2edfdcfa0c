"""The field type grammar of EventStorming models, parsed into a typed form.

    type     := optional
    optional := single ("|" "None")?
    single   := PRIMITIVE | "list[" type "]" | "dict[str," type "]" | Name

``Name`` refers to a value object or enum declared in the model.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Final, Union

from modeling.names import shown

MAX_TYPE_DEPTH: Final = 6
"""Deepest nesting of list[...] and dict[...] in one type (generated annotations must fit
on a line)."""

PRIMITIVES: Final = ("str", "int", "float", "bool", "decimal", "datetime", "date", "uuid", "bytes")


@dataclass(frozen=True)
class Primitive:
    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class ListOf:
    item: TypeExpr

    def __str__(self) -> str:
        return f"list[{self.item}]"


@dataclass(frozen=True)
class DictOf:
    value: TypeExpr

    def __str__(self) -> str:
        return f"dict[str, {self.value}]"


@dataclass(frozen=True)
class Optional:
    inner: TypeExpr

    def __str__(self) -> str:
        return f"{self.inner} | None"


@dataclass(frozen=True)
class Named:
    """A value object or enum declared in the model."""

    name: str

    def __str__(self) -> str:
        return self.name


TypeExpr = Union[Primitive, ListOf, DictOf, Optional, Named]  # noqa: UP007 (forward refs)


class TypeSyntaxError(ValueError):
    def __init__(self, text: str, offset: int, message: str) -> None:
        super().__init__(message)
        self.text = text
        self.offset = offset


_TOKEN = re.compile(r"\s*(list\[|dict\[|\]|,|\||[A-Za-z_][A-Za-z0-9_]*|\S)")

_HINT = (
    "write one of str int float bool decimal datetime date uuid bytes, list[T], "
    "dict[str, T], T | None, or the name of a value object or enum"
)


@functools.lru_cache(maxsize=4096)
def parse_type(text: str) -> TypeExpr:
    """Parse a type expression; raises TypeSyntaxError with the offset of the problem.

    Cached (the result is immutable): a model has few type texts, but the model's
    validators, validate and the code writers each parse every field's (65,000 calls,
    0.15 s, for a model of 500 events of 14 fields)."""
    tokens = [(m.group(1), m.start(1)) for m in _TOKEN.finditer(text)]
    parser = _Parser(text, tokens)
    expr = parser.optional()
    if parser.index < len(tokens):
        token, offset = tokens[parser.index]
        raise TypeSyntaxError(text, offset,
                              f"unexpected {shown(token)} in type {shown(text)}: {_HINT}")
    return expr


def named_types(expr: TypeExpr) -> list[str]:
    """Names of model-declared types that ``expr`` refers to."""
    if isinstance(expr, Named):
        return [expr.name]
    if isinstance(expr, ListOf):
        return named_types(expr.item)
    if isinstance(expr, DictOf):
        return named_types(expr.value)
    if isinstance(expr, Optional):
        return named_types(expr.inner)
    return []


class _Parser:
    def __init__(self, text: str, tokens: list[tuple[str, int]]) -> None:
        self.text = text
        self.tokens = tokens
        self.index = 0
        self.depth = 0

    def peek(self) -> str | None:
        return self.tokens[self.index][0] if self.index < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        if self.index >= len(self.tokens):
            raise TypeSyntaxError(
                self.text, len(self.text),
                f"type {shown(self.text)} ends early"
                + (f", expected {expected!r}" if expected else "") + f": {_HINT}",
            )
        token, offset = self.tokens[self.index]
        if expected is not None and token != expected:
            raise TypeSyntaxError(
                self.text, offset, f"expected {expected!r} but found {shown(token)} in type "
                f"{shown(self.text)}: {_HINT}",
            )
        self.index += 1
        return token

    def optional(self) -> TypeExpr:
        inner = self.single()
        if self.peek() == "|":
            self.take("|")
            self.take("None")
            if isinstance(inner, Optional):
                return inner
            return Optional(inner)
        return inner

    def single(self) -> TypeExpr:
        offset = self.tokens[self.index][1] if self.index < len(self.tokens) else len(self.text)
        token = self.take()
        if token in ("list[", "dict["):
            self.depth += 1
            if self.depth > MAX_TYPE_DEPTH:
                raise TypeSyntaxError(self.text, offset, f"type nests list[...] and dict[...] "
                                      f"deeper than {MAX_TYPE_DEPTH} levels: declare a value "
                                      f"object for the inner part")
        if token == "list[":
            item = self.optional()
            self.take("]")
            self.depth -= 1
            return ListOf(item)
        if token == "dict[":
            self.take("str")
            self.take(",")
            value = self.optional()
            self.take("]")
            self.depth -= 1
            return DictOf(value)
        if token in PRIMITIVES:
            return Primitive(token)
        if token == "None":
            raise TypeSyntaxError(self.text, offset,
                                  "None alone is not a field type: write T | None")
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", token):
            return Named(token)
        raise TypeSyntaxError(self.text, offset, f"unexpected {shown(token)} in type "
                              f"{shown(self.text)}: {_HINT}")
