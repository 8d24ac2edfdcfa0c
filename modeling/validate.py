"""Semantic validation (errors) and lints (warnings) of a structurally valid model."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping

from pydantic import JsonValue

from modeling.context_map import crossing_problems, map_problems
from modeling.identity import id_value_problem, identity_problems
from modeling.index import Entry, Kind, ModelIndex, index_model
from modeling.lints import LINT_CODES, lint_model
from modeling.name_checks import (
    KIND_WORD,
    element_name_problems,
    enum_value_problems,
    field_name_problem,
    model_name_problems,
)
from modeling.names import short, shown
from modeling.policy_checks import check_policies
from modeling.read_models import read_model_problems
from modeling.source import Diagnostic, Path, Severity, SourceMap
from modeling.typeexpr import PRIMITIVES, TypeSyntaxError, named_types, parse_type
from modeling.types import Aggregate, Element, FieldSpec, Model, Scenario
from modeling.values import (
    MAX_NESTING,
    DeclaredTypes,
    payload_problems,
    value_object_nesting,
    value_problem,
)

MAX_ISSUED = 64
"""Most commands one policy may issue."""

MAX_EVOLVE_PAIR = 90
"""Longest field name plus type name of a state or row field, or a field with a default:
`        name: Type` of the generated evolve(...) (or `name: Type = ...`) keeps within 100
columns."""


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
        self.check_identity()
        self.check_context_map()
        self.check_scenarios()
        check_policies(self)  # what policies read, and their scenarios
        self.check_read_models()
        self.check_ignores()
        self.lint()
        return self.diagnostics

    # ---- names -------------------------------------------------------------------------

    def check_model_name(self) -> None:
        for path, message, code in model_name_problems(self.model):
            self.report(path, message, code)

    def check_names(self) -> None:
        def line_of(path: Path) -> int:
            return self.source.locate(path).line

        for path, message, code in element_name_problems(self.index, line_of):
            self.report(path, message, code)
        for path, message, code in enum_value_problems(self.model):
            self.report(path, message, code)

    # ---- fields ------------------------------------------------------------------------

    def field_groups(self) -> Iterable[tuple[Path, str, Mapping[str, FieldSpec]]]:
        for c, context in enumerate(self.model.contexts):
            base: Path = ("contexts", c)
            for i, vo in enumerate(context.value_objects):
                yield ((*base, "value_objects", i, "fields"), f"value object {short(vo.name)}",
                       vo.fields)
            for a, aggregate in enumerate(context.aggregates):
                path: Path = (*base, "aggregates", a)
                yield (*path, "state"), f"aggregate {short(aggregate.name)} state", aggregate.state
                for i, command in enumerate(aggregate.commands):
                    yield (*path, "commands", i, "fields"), f"command {short(command.name)}", \
                        command.fields
                for i, event in enumerate(aggregate.events):
                    yield (*path, "events", i, "fields"), f"event {short(event.name)}", event.fields
            for i, event in enumerate(context.events):
                yield (*base, "events", i, "fields"), f"event {short(event.name)}", event.fields
            for i, read_model in enumerate(context.read_models):
                yield (*base, "read_models", i, "fields"), f"read model {short(read_model.name)}", \
                    read_model.fields

    def check_fields(self) -> None:
        declared = sorted(set(self.types.value_objects) | set(self.types.enums))
        unending, nesting = value_object_nesting(self.types)
        for path, owner, fields in self.field_groups():
            for name, spec in fields.items():
                field_path = (*path, name)
                problem = field_name_problem(name, owner)
                if problem:
                    self.report(field_path, problem, "bad-name", at_key=True)
                self.check_field_type(field_path, owner, name, spec, declared)
                if (path[-1] == "state" or path[-3:-2] == ("read_models",)
                        or spec.has_default):
                    self.check_evolve_line(field_path, owner, name, spec)
        for c, context in enumerate(self.model.contexts):
            for i, vo in enumerate(context.value_objects):
                if vo.name in unending:
                    field = unending[vo.name]
                    self.report(("contexts", c, "value_objects", i, "fields", field),
                                f"value object {short(vo.name)} requires itself through field "
                                f"{shown(field)} with no way to end (no value could ever be "
                                f"written): make the field optional (`T | None`), a list, or "
                                f"give it a default", "unending-type", at_key=True)
                elif nesting.get(vo.name, 0) > MAX_NESTING:
                    self.report(("contexts", c, "value_objects", i, "name"),
                                f"value object {short(vo.name)} requires value objects "
                                f"{nesting[vo.name]} deep; at most {MAX_NESTING}: make some "
                                f"of those fields optional or give them defaults",
                                "too-deep")

    def check_evolve_line(self, path: Path, owner: str, name: str, spec: FieldSpec) -> None:
        """A state or row field is a parameter of the generated ``evolve(...)``, one line at
        8 columns that ruff cannot break between the name and a type name; so is any field
        with a default (``name: Type = ...``: ruff breaks the value, not the annotation)."""
        try:
            types = named_types(parse_type(spec.type))
        except TypeSyntaxError:
            return  # reported by check_field_type
        for type_name in types:
            if len(name) + len(type_name) > MAX_EVOLVE_PAIR:
                self.report(path, f"field {shown(name)} of {owner} and its type "
                            f"{shown(type_name)} have {len(name) + len(type_name)} characters "
                            f"together; at most {MAX_EVOLVE_PAIR} fit the generated "
                            f"`{name}: {type_name} ...` line within 100 columns: shorten "
                            f"the field name or the type name", "bad-name", at_key=True)
                return

    def check_field_type(self, path: Path, owner: str, name: str, spec: FieldSpec,
                         declared: list[str]) -> None:
        try:
            expr = parse_type(spec.type)
        except TypeSyntaxError as exc:
            self.report(path, f"field {shown(name)} of {owner}: {exc}", "bad-type")
            return
        for type_name in named_types(expr):
            if type_name not in declared:
                hint = _did_you_mean(type_name, [*declared, *PRIMITIVES])
                self.report(path, f"field {shown(name)} of {owner} has unknown type "
                            f"{shown(type_name)}: {_valid_types(declared)}{hint}",
                            "unknown-type")
                return
        if spec.has_default:
            problem = value_problem(spec.default, expr, self.types)
            if problem:
                self.report((*path, "default"), f"default of field {shown(name)} of {owner}: "
                            f"{problem}", "bad-default")

    # ---- references --------------------------------------------------------------------

    def resolve(self, path: Path, name: str, what: str, *kinds: Kind) -> Entry | None:
        entry = self.index.named(name, *kinds)
        if entry is None:
            candidates = self.index.names(*kinds)
            expected = KIND_WORD[kinds[0]] if len(kinds) == 1 else ""
            other = self.index.named(name)
            if expected and other is not None:
                owner = f" of aggregate {short(other.aggregate)}" if other.aggregate else ""
                said = (f"{what} {shown(name)}, but {short(name)} is "
                        f"{_a(KIND_WORD[other.kind])}{owner}, not {_a(expected)}")
            else:
                said = f"{what} {shown(name)}, which is not declared"
            self.report(path, f"{said}{_did_you_mean(name, candidates)}", "unknown-reference")
        return entry

    def check_references(self) -> None:
        for c, context in enumerate(self.model.contexts):
            base: Path = ("contexts", c)
            for a, aggregate in enumerate(context.aggregates):
                for i, command in enumerate(aggregate.commands):
                    path: Path = (*base, "aggregates", a, "commands", i)
                    if command.actor is not None:
                        self.resolve((*path, "actor"), command.actor,
                                     f"command {short(command.name)} names actor", "actor")
                    own = [event.name for event in aggregate.events]
                    for e, event in enumerate(command.emits):
                        if event not in own:
                            self.report((*path, "emits", e), self.not_own_event(
                                command.name, event, aggregate, own), "unknown-reference")
            for i, policy in enumerate(context.policies):
                path = (*base, "policies", i)
                for e, event in enumerate(policy.on):
                    self.resolve((*path, "on", e), event,
                                 f"policy {short(policy.name)} reacts to event", "event")
                if len(policy.issues) > MAX_ISSUED:
                    self.report((*path, "issues"), f"policy {short(policy.name)} issues "
                                f"{len(policy.issues)} commands; a policy issues at most "
                                f"{MAX_ISSUED} (its methods return their union): split it",
                                "too-many")
                for k, issued in enumerate(policy.issues):
                    self.resolve((*path, "issues", k), issued,
                                 f"policy {short(policy.name)} issues command", "command")
            for i, read_model in enumerate(context.read_models):
                for e, event in enumerate(read_model.from_):
                    self.resolve((*base, "read_models", i, "from", e), event,
                                 f"read model {short(read_model.name)} reads event", "event")
            for i, system in enumerate(context.external_systems):
                for key, events in (("emits", system.emits), ("receives", system.receives)):
                    for e, event in enumerate(events):
                        self.resolve((*base, "external_systems", i, key, e), event,
                                     f"external system {short(system.name)} {key} event", "event")
            for i, hot_spot in enumerate(context.hot_spots):
                if hot_spot.about is not None:
                    self.resolve((*base, "hot_spots", i, "about"), hot_spot.about,
                                  "hot spot is about")

    def check_identity(self) -> None:
        for path, message, code in identity_problems(self.model):
            self.report(path, message, code)

    def check_context_map(self) -> None:
        for path, message, code in [*map_problems(self.model, self.index),
                                    *crossing_problems(self.model, self.index)]:
            self.report(path, message, code)

    def not_own_event(self, command: str, event: str, aggregate: Aggregate,
                      own: list[str]) -> str:
        said = (f"command {short(command)} emits {shown(event)}, which is not an event of "
                f"aggregate {short(aggregate.name)}")
        entry = self.index.named(event)
        if entry is not None and entry.kind == "event":
            where = (f"aggregate {short(entry.aggregate)}" if entry.aggregate
                     else f"context {short(entry.context)}")
            return (f"{said} but of {where}; a command emits only its own aggregate's events: "
                    f"a policy is the way across aggregates (let {short(command)} emit an "
                    f"event of {short(aggregate.name)}, and a policy react to it by issuing "
                    f"the command that emits {short(event)})")
        if entry is not None:
            return f"{said}{self.what_it_is(event, 'event')}; name one of its events"
        close = _did_you_mean(event, own)  # "; did you mean 'X'?"
        declare = "declare it under the aggregate's events"
        return f"{said}{close} Or {declare}" if close else f"{said}; {declare}"

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
        then_written = "then" in scenario.model_fields_set
        if then_written and scenario.error is not None:
            self.report((*path, "error"), f"scenario {shown(scenario.name)} has both `then` and "
                        f"`error`; a rejected command emits nothing: keep one (`then: []` "
                        f"says the command succeeds and emits nothing)", "bad-scenario")
        elif not then_written and scenario.error is None:
            self.report((*path, "name"), f"scenario {shown(scenario.name)} says neither what "
                        f"happens (`then:` the events, or `then: []` for none) nor why the "
                        f"command is refused (`error:` text of the message); add one",
                        "bad-scenario")
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
            self.report(path, f"{shown(name)} is not {_a(kind)} of aggregate "
                        f"{short(aggregate.name)}{self.what_it_is(name, kind)}"
                        f"{_did_you_mean(name, list(known))}", "unknown-reference", at_key=True)
            return
        problems = payload_problems(payload, known[name], self.types, name)
        for field, problem in problems:
            where = (*path, name) if field is None else (*path, name, field)
            self.report(where, problem, "bad-scenario")
        too_long = None if problems else id_value_problem(aggregate, payload, known[name])
        if too_long is not None:
            self.report((*path, name, str(aggregate.id)), too_long, "bad-scenario")

    def check_read_models(self) -> None:
        def hint(name: str, expected: str, candidates: list[str]) -> str:
            return self.what_it_is(name, expected) + _did_you_mean(name, candidates)

        for path, message, code, at_key in read_model_problems(self.model, self.types, hint):
            self.report(path, message, code, at_key=at_key)

    def what_it_is(self, name: str, expected: str) -> str:
        """`` (it is an event of aggregate X)`` when ``name`` is another kind of element."""
        entry = self.index.named(name)
        if entry is None or entry.kind == expected:
            return ""
        owner = f" of aggregate {short(entry.aggregate)}" if entry.aggregate else ""
        return f" (it is {_a(KIND_WORD[entry.kind])}{owner})"

    # ---- lints -------------------------------------------------------------------------

    def lint(self) -> None:
        ignored = {(entry.path, code) for entry in self.index.entries
                   for code in self.element_at(entry.path).ignore}
        for path, message, code in lint_model(self.model, self.index):
            if (path[:-1], code) not in ignored:
                self.report(path, f"{message} [{code}]", code, severity="warning")

    def check_ignores(self) -> None:
        for entry in self.index.entries:
            for i, code in enumerate(self.element_at(entry.path).ignore):
                if code not in LINT_CODES:
                    self.report((*entry.path, "ignore", i), f"{shown(code)} is not a lint "
                                f"code; the lints are {', '.join(LINT_CODES)}"
                                f"{_did_you_mean(code, list(LINT_CODES))}", "unknown-lint")

    def element_at(self, path: Path) -> Element:
        found: object = self.model
        for key in path:
            found = found[key] if isinstance(key, int) else getattr(found, str(key))  # type: ignore[index]
        assert isinstance(found, Element)
        return found


def _a(word: str) -> str:
    return f"{'an' if word[:1] in ('a', 'e', 'i', 'o', 'u') else 'a'} {word}"


def _valid_types(declared: list[str]) -> str:
    shown_declared = ", ".join(short(name, 30) for name in declared[:12])
    more = f" and {len(declared) - 12} more" if len(declared) > 12 else ""
    own = (f", and the model's value objects and enums ({shown_declared}{more})" if declared
           else ", and value objects and enums the model declares")
    return (f"the types are {', '.join(PRIMITIVES)}, list[T], dict[str, T], T | None{own}")


def _did_you_mean(name: str, candidates: list[str]) -> str:
    if len(name) > 100:  # difflib is quadratic; a hostile name gets no suggestion
        return ""
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return f"; did you mean {shown(close[0])}?" if close else ""
