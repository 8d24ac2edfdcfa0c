"""Semantic validation (errors) and lints (warnings) of a structurally valid model."""

from __future__ import annotations

import difflib
import keyword
import re
from collections.abc import Iterable, Mapping

from pydantic import JsonValue

from modeling.index import Entry, Kind, ModelIndex, index_model
from modeling.lints import lint_model
from modeling.names import snake_case
from modeling.source import Diagnostic, Path, Severity, SourceMap
from modeling.typeexpr import PRIMITIVES, TypeSyntaxError, named_types, parse_type
from modeling.types import Aggregate, FieldSpec, Model, Scenario
from modeling.values import DeclaredTypes, payload_problem, value_problem

PASCAL = re.compile(r"^[A-Z][A-Za-z0-9]*$")
SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")
# Field names that would shadow names generated code relies on.
RESERVED_FIELDS = frozenset({
    "str", "int", "float", "bool", "bytes", "list", "dict", "date", "datetime", "uuid",
    "decimal", "event_type", "schema_version", "self", "cls",
})

_KIND_WORD: dict[Kind, str] = {
    "context": "context", "actor": "actor", "value_object": "value object", "enum": "enum",
    "aggregate": "aggregate", "command": "command", "event": "event", "policy": "policy",
    "read_model": "read model", "external_system": "external system",
}


def check_model(model: Model, source: SourceMap,
                skip: Iterable[Path] = ()) -> list[Diagnostic]:
    """Every error and warning of the model, in file order; nothing is reported at or
    under the ``skip`` paths (parts already reported as structurally broken)."""
    return sorted(_Checker(model, source, list(skip)).run())


class _Checker:
    def __init__(self, model: Model, source: SourceMap, skip: list[Path]) -> None:
        self.model = model
        self.source = source
        self.skip = skip
        self.index: ModelIndex = index_model(model)
        self.diagnostics: list[Diagnostic] = []
        value_objects = {vo.name: vo for c in model.contexts for vo in c.value_objects}
        enums = {e.name: e for c in model.contexts for e in c.enums}
        self.types = DeclaredTypes(value_objects, enums)

    def report(self, path: Path, message: str, code: str, severity: Severity = "error",
               at_key: bool = False) -> None:
        if any(path[:len(skipped)] == skipped for skipped in self.skip):
            return
        self.diagnostics.append(
            Diagnostic(self.source.locate(path, at_key), severity, message, code))

    def run(self) -> list[Diagnostic]:
        self.check_model_name()
        self.check_names()
        self.check_fields()
        self.check_references()
        self.check_scenarios()
        self.lint()
        return self.diagnostics

    # ---- names -------------------------------------------------------------------------

    def check_model_name(self) -> None:
        if not SNAKE.match(self.model.name) or keyword.iskeyword(self.model.name):
            suggestion = _snake(self.model.name) or "my_model"
            self.report(("model",), f"model name {self.model.name!r} must be a snake_case "
                        f"Python identifier (it names the generated package); "
                        f"write {suggestion!r}", "bad-name")

    def check_names(self) -> None:
        first_seen: dict[str, Entry] = {}
        for entry in self.index.entries:
            if not PASCAL.match(entry.name) or keyword.iskeyword(entry.name):
                self.report((*entry.path, "name"),
                            f"{_KIND_WORD[entry.kind]} name {entry.name!r} must be a PascalCase "
                            f"identifier; write {_pascal(entry.name)!r}", "bad-name")
                continue
            earlier = first_seen.get(entry.name)
            if earlier is None:
                first_seen[entry.name] = entry
            elif not (earlier.kind == entry.kind == "actor"):  # actors may recur per context
                where = self.source.locate((*earlier.path, "name"))
                self.report((*entry.path, "name"),
                            f"{_KIND_WORD[entry.kind]} name {entry.name!r} is already used by "
                            f"the {_KIND_WORD[earlier.kind]} at line {where.line}; names are "
                            f"unique across the model (they become classes of one package)",
                            "duplicate-name")
        for c, context in enumerate(self.model.contexts):
            for e, enum in enumerate(context.enums):
                seen: set[str] = set()
                for v, value in enumerate(enum.values):
                    path = ("contexts", c, "enums", e, "values", v)
                    if not value.isidentifier() or keyword.iskeyword(value):
                        self.report(path, f"enum value {value!r} of {enum.name} must be an "
                                    f"identifier (letters, digits, _)", "bad-name")
                    elif value in seen:
                        self.report(path, f"enum value {value!r} repeats in {enum.name}",
                                    "duplicate-name")
                    seen.add(value)
                if not enum.values:
                    self.report(("contexts", c, "enums", e),
                                f"enum {enum.name} needs at least one value", "empty-enum")

    # ---- fields ------------------------------------------------------------------------

    def field_groups(self) -> Iterable[tuple[Path, str, Mapping[str, FieldSpec]]]:
        for c, context in enumerate(self.model.contexts):
            base: Path = ("contexts", c)
            for i, vo in enumerate(context.value_objects):
                yield (*base, "value_objects", i, "fields"), f"value object {vo.name}", vo.fields
            for a, aggregate in enumerate(context.aggregates):
                path: Path = (*base, "aggregates", a)
                yield (*path, "state"), f"aggregate {aggregate.name} state", aggregate.state
                for i, command in enumerate(aggregate.commands):
                    yield (*path, "commands", i, "fields"), f"command {command.name}", \
                        command.fields
                for i, event in enumerate(aggregate.events):
                    yield (*path, "events", i, "fields"), f"event {event.name}", event.fields
            for i, event in enumerate(context.events):
                yield (*base, "events", i, "fields"), f"event {event.name}", event.fields
            for i, read_model in enumerate(context.read_models):
                yield (*base, "read_models", i, "fields"), f"read model {read_model.name}", \
                    read_model.fields

    def check_fields(self) -> None:
        declared = sorted(set(self.types.value_objects) | set(self.types.enums))
        for path, owner, fields in self.field_groups():
            for name, spec in fields.items():
                field_path = (*path, name)
                if not SNAKE.match(name) or keyword.iskeyword(name) or name in RESERVED_FIELDS:
                    reserved = name in RESERVED_FIELDS or keyword.iskeyword(name)
                    why = "is reserved" if reserved else "must be snake_case"
                    better = (_snake(name) or "value") + ("_" if reserved else "")
                    self.report(field_path, f"field name {name!r} of {owner} {why}; write "
                                f"{better!r}", "bad-name", at_key=True)
                self.check_field_type(field_path, owner, name, spec, declared)

    def check_field_type(self, path: Path, owner: str, name: str, spec: FieldSpec,
                         declared: list[str]) -> None:
        try:
            expr = parse_type(spec.type)
        except TypeSyntaxError as exc:
            self.report(path, f"field {name!r} of {owner}: {exc}", "bad-type")
            return
        for type_name in named_types(expr):
            if type_name not in declared:
                hint = _did_you_mean(type_name, [*declared, *PRIMITIVES])
                self.report(path, f"field {name!r} of {owner} has unknown type "
                            f"{type_name!r}{hint}", "unknown-type")
                return
        if spec.has_default:
            problem = value_problem(spec.default, expr, self.types)
            if problem:
                self.report((*path, "default"), f"default of field {name!r} of {owner}: "
                            f"{problem}", "bad-default")

    # ---- references --------------------------------------------------------------------

    def resolve(self, path: Path, name: str, what: str, *kinds: Kind) -> Entry | None:
        entry = self.index.named(name, *kinds)
        if entry is None:
            candidates = self.index.names(*kinds)
            self.report(path, f"{what} {name!r}, which is not declared"
                        f"{_did_you_mean(name, candidates)}", "unknown-reference")
        return entry

    def check_references(self) -> None:
        for c, context in enumerate(self.model.contexts):
            base: Path = ("contexts", c)
            for a, aggregate in enumerate(context.aggregates):
                for i, command in enumerate(aggregate.commands):
                    path: Path = (*base, "aggregates", a, "commands", i)
                    if command.actor is not None:
                        self.resolve((*path, "actor"), command.actor,
                                     f"command {command.name} names actor", "actor")
                    own = [event.name for event in aggregate.events]
                    for e, event in enumerate(command.emits):
                        if event not in own:
                            self.report((*path, "emits", e),
                                        f"command {command.name} emits {event!r}, which is not "
                                        f"an event of aggregate {aggregate.name}"
                                        f"{_did_you_mean(event, own)}; declare it under the "
                                        f"aggregate's events", "unknown-reference")
            for i, policy in enumerate(context.policies):
                path = (*base, "policies", i)
                for e, event in enumerate(policy.on):
                    self.resolve((*path, "on", e), event, f"policy {policy.name} reacts to event",
                                 "event")
                for k, issued in enumerate(policy.issues):
                    self.resolve((*path, "issues", k), issued,
                                 f"policy {policy.name} issues command", "command")
            for i, read_model in enumerate(context.read_models):
                for e, event in enumerate(read_model.from_):
                    self.resolve((*base, "read_models", i, "from", e), event,
                                 f"read model {read_model.name} reads event", "event")
            for i, system in enumerate(context.external_systems):
                for key, events in (("emits", system.emits), ("receives", system.receives)):
                    for e, event in enumerate(events):
                        self.resolve((*base, "external_systems", i, key, e), event,
                                     f"external system {system.name} {key} event", "event")
            for i, hot_spot in enumerate(context.hot_spots):
                if hot_spot.about is not None:
                    self.resolve((*base, "hot_spots", i, "about"), hot_spot.about,
                                  "hot spot is about")

    # ---- scenarios ---------------------------------------------------------------------

    def check_scenarios(self) -> None:
        for c, context in enumerate(self.model.contexts):
            for a, aggregate in enumerate(context.aggregates):
                for s, scenario in enumerate(aggregate.scenarios):
                    self.check_scenario(("contexts", c, "aggregates", a, "scenarios", s),
                                        aggregate, scenario)

    def check_scenario(self, path: Path, aggregate: Aggregate, scenario: Scenario) -> None:
        events = {event.name: event.fields for event in aggregate.events}
        commands = {command.name: command.fields for command in aggregate.commands}
        if scenario.then and scenario.error is not None:
            self.report((*path, "error"), f"scenario {scenario.name!r} has both `then` and "
                        f"`error`; a rejected command emits nothing: keep one", "bad-scenario")
        for key, messages in (("given", scenario.given), ("then", scenario.then)):
            for i, message in enumerate(messages):
                self.check_message((*path, key, i), message, events, "event", aggregate)
        self.check_message((*path, "when"), scenario.when, commands, "command", aggregate)

    def check_message(self, path: Path, message: Mapping[str, Mapping[str, JsonValue]],
                      known: Mapping[str, Mapping[str, FieldSpec]], kind: str,
                      aggregate: Aggregate) -> None:
        if len(message) != 1:
            self.report(path, f"write exactly one {kind} here, as `{{Name: {{field: value}}}}`",
                        "bad-scenario")
            return
        ((name, payload),) = message.items()
        if name not in known:
            self.report(path, f"{name!r} is not a {kind} of aggregate {aggregate.name}"
                        f"{_did_you_mean(name, list(known))}", "unknown-reference", at_key=True)
            return
        problem = payload_problem(payload, known[name], self.types, name)
        if problem:
            self.report((*path, name), problem, "bad-scenario")

    # ---- lints -------------------------------------------------------------------------

    def lint(self) -> None:
        for path, message, code in lint_model(self.model, self.index):
            self.report(path, message, code, severity="warning")


def _did_you_mean(name: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _pascal(name: str) -> str:
    parts = re.split(r"[^A-Za-z0-9]+|_", name)
    result = "".join(part[:1].upper() + part[1:] for part in parts if part)
    return result if result[:1].isalpha() else f"X{result}"


def _snake(name: str) -> str:
    text = snake_case(name)
    return text if text[:1].isalpha() else f"x_{text}" if text else ""
