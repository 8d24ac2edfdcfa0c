"""YAML text -> plain data plus a SourceMap of where every key and value stands.

Only PyYAML's safe composer runs (no object construction beyond plain scalars).
YAML 1.1 quirks that surprise modelers are undone: ``on``/``off``/``yes``/``no``
stay strings (so ``on: [OrderPlaced]`` means the key "on"), ``1e300`` is a float as
in YAML 1.2 (1.1 wants ``1.0e+300``), dates stay the text
written, and duplicate keys are errors instead of silently overwriting.

Hostile files are bounded: nesting deeper than MAX_DEPTH is refused before anything
recursive runs (PyYAML's event parser is iterative, its composer is not; the composer then
reads the events the depth check kept, not the text again), and aliases may not refer to
themselves or expand to more than MAX_VALUES values (a 351-byte "billion laughs" file
would otherwise take all memory).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.events import (
    Event,
    MappingEndEvent,
    MappingStartEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

from modeling.names import shown
from modeling.source import Diagnostic, Location, Path, SourceMap
from modeling.yaml_errors import plain_yaml_message

MAX_DEPTH = 64
"""Deepest nesting of mappings and lists in a model file (models need about 15)."""
MAX_VALUES = 200_000
"""Most values a model file may hold once its aliases are expanded."""

_PLAIN_TAGS = frozenset(f"tag:yaml.org,2002:{name}" for name in (
    "str", "int", "float", "bool", "null", "timestamp", "map", "seq"))
_NULL_TAG = "tag:yaml.org,2002:null"
# YAML 1.2's core-schema float with an exponent (1e300, 2E-3, .5e1), which 1.1 reads as text.
YAML12_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)[eE][-+]?[0-9]+")
# The numbers of YAML 1.2's core schema. 1.1 also reads 1:20 (80, base 60), 0777 (octal),
# 0b101 and 1_000 as numbers; 1.2 reads 0777 as 777 and the rest as text.
_YAML12_NUMBER = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?"
                            r"|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)")
YAML12_BASED = re.compile(r"0o[0-7]+|0x[0-9a-fA-F]+")
"""YAML 1.2's octal and hexadecimal integers (1.1 reads 0o17 as text)."""
_DECIMAL = re.compile(r"[-+]?[0-9]+")


def _location(file: str, mark: Any) -> Location:
    if mark is None:
        return Location(file, 1, 1)
    return Location(file, mark.line + 1, mark.column + 1)


def load_yaml(text: str, file: str) -> tuple[Any, SourceMap, list[Diagnostic]]:
    """Parse YAML; returns (data, source map, diagnostics). Data is None on syntax errors."""
    source = SourceMap(file)
    try:
        events = _events(text, file)
        if isinstance(events, Diagnostic):
            return None, source, [events]
        root = _Replay(events).get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        return None, source, [Diagnostic(
            _location(file, mark), "error", plain_yaml_message(exc.problem, exc.context),
            "yaml-syntax",
        )]
    except yaml.YAMLError as exc:
        return None, source, [Diagnostic(Location(file, 1, 1), "error", f"YAML: {exc}",
                                         "yaml-syntax")]
    if root is None or (isinstance(root, ScalarNode) and root.tag == _NULL_TAG):
        # No document, or one that is only null (`---`, `~`, `null`, `%YAML 1.2` + `---`).
        return None, source, [Diagnostic(
            Location(file, 1, 1), "error",
            "the model file is empty; start with `model: <name>` and `contexts:`", "empty",
        )]
    converter = _Converter(file, source)
    try:
        data = converter.convert(root, ())
    except _Unbounded as exc:
        return None, SourceMap(file), [exc.diagnostic]
    return data, source, converter.diagnostics


def _events(text: str, file: str) -> list[Event] | Diagnostic:
    """The text's parse events, or where it nests deeper than MAX_DEPTH."""
    events: list[Event] = []
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        events.append(event)
        if isinstance(event, MappingStartEvent | SequenceStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                return Diagnostic(_location(file, event.start_mark), "error",
                                  f"mappings and lists nest deeper than {MAX_DEPTH} levels "
                                  f"here; a model needs far fewer: flatten this value",
                                  "yaml-too-deep")
        elif isinstance(event, MappingEndEvent | SequenceEndEvent):
            depth -= 1
    return events


class _Replay(Composer, Resolver):
    """``yaml.compose`` with SafeLoader, over events already parsed: the composer only asks
    its parser for the next event (and tags plain scalars by Resolver, as SafeLoader does),
    so it builds the same nodes and raises the same errors as on the text."""

    def __init__(self, events: list[Event]) -> None:
        Composer.__init__(self)
        Resolver.__init__(self)
        self.events = events
        self.next = 0

    def check_event(self, *choices: type[Event]) -> bool:
        if self.next >= len(self.events):
            return False
        return not choices or isinstance(self.events[self.next], choices)

    def peek_event(self) -> Event | None:
        return self.events[self.next] if self.next < len(self.events) else None

    def get_event(self) -> Event | None:
        event = self.peek_event()
        self.next += 1
        return event


class _Unbounded(Exception):
    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


class _Converter:
    def __init__(self, file: str, source: SourceMap) -> None:
        self.file = file
        self.source = source
        self.diagnostics: list[Diagnostic] = []
        self.constructor = SafeConstructor()
        self.values = 0
        self.open: set[int] = set()  # nodes being converted: an alias back to one is a loop

    def convert(self, node: Node, path: Path) -> Any:
        where = _location(self.file, node.start_mark)
        self.values += 1
        if self.values > MAX_VALUES or len(path) > 2 * MAX_DEPTH:
            raise _Unbounded(Diagnostic(
                where, "error", f"aliases expand this file beyond {MAX_VALUES} values (or "
                f"{2 * MAX_DEPTH} levels); write the repeated parts out, or alias less",
                "yaml-alias-bomb"))
        if id(node) in self.open:
            raise _Unbounded(Diagnostic(
                where, "error", "this alias refers to a value that contains it, which would "
                "never end; write the value out instead", "yaml-recursive-alias"))
        self.open.add(id(node))
        try:
            return self._convert(node, path, where)
        finally:
            self.open.discard(id(node))

    def _convert(self, node: Node, path: Path, where: Location) -> Any:
        self.source.values[path] = where
        if node.tag not in _PLAIN_TAGS:
            self.diagnostics.append(Diagnostic(
                _location(self.file, node.start_mark), "error",
                f"unsupported YAML value (tag {node.tag}); write plain text, numbers, "
                f"lists and mappings", "yaml-tag"))
            return None
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            return [self.convert(item, (*path, index)) for index, item in enumerate(node.value)]
        assert isinstance(node, ScalarNode)
        return self._scalar(node)

    def _mapping(self, node: MappingNode, path: Path) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            where = _location(self.file, key_node.start_mark)
            if not isinstance(key_node, ScalarNode):
                self.diagnostics.append(Diagnostic(
                    where, "error", "mapping keys must be plain names, not lists or mappings",
                    "yaml-key"))
                continue
            key = str(key_node.value)
            if key in result:
                self.diagnostics.append(Diagnostic(
                    where, "error",
                    f"duplicate key {shown(key)}: the first one would be silently lost; "
                    f"merge the two entries", "yaml-duplicate-key"))
                continue
            self.source.keys[(*path, key)] = where
            result[key] = self.convert(value_node, (*path, key))
        return result

    def _scalar(self, node: ScalarNode) -> Any:
        try:
            value = self.constructor.construct_object(node)
        except ConstructorError as exc:
            self.diagnostics.append(Diagnostic(
                _location(self.file, node.start_mark), "error",
                f"unsupported YAML value ({exc.problem}); write plain text, numbers, "
                f"lists and mappings", "yaml-tag"))
            return None
        except ValueError:  # e.g. an integer of more digits than Python converts
            self.diagnostics.append(Diagnostic(
                _location(self.file, node.start_mark), "error",
                f"number of {len(node.value)} characters is too large; integers stay within "
                f"2**53 - 1: write a decimal as text instead", "yaml-number"))
            return None
        if isinstance(value, str):  # most values (names, types): only two checks apply
            if node.style is None and YAML12_FLOAT.fullmatch(value):
                return float(value)  # YAML 1.1 wants a dot and a signed exponent: 1e300 is text
            if node.style is None and YAML12_BASED.fullmatch(value):
                return int(value, 0)  # 0o17: YAML 1.2's octal, which 1.1 reads as text
            return value
        if isinstance(value, bool) and node.value.lower() not in ("true", "false"):
            return node.value  # YAML 1.1 reads on/off/yes/no as booleans; modelers mean words
        if isinstance(value, dt.date | dt.datetime):
            return node.value
        if isinstance(value, int | float) and not isinstance(value, bool) and not \
                _YAML12_NUMBER.fullmatch(node.value) and not YAML12_BASED.fullmatch(node.value):
            return node.value  # 1:20, 0b101, 1_000: text in YAML 1.2
        if isinstance(value, int) and not isinstance(value, bool) and \
                _DECIMAL.fullmatch(node.value):
            return int(node.value, 10)  # 0777 is 777 in YAML 1.2, not 1.1's octal 511
        return value
