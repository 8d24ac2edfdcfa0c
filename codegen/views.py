"""The model, digested for templates: every name, annotation, literal and docstring in
generated code is computed here, already safe, so templates only place text."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import JsonValue

from codegen.pysource import call, constant, docstring, identifier, literal
from codegen.typemap import Imports, Types, annotation, default_expression, sample, zero_expression
from modeling.names import snake_case as snake
from modeling.typeexpr import Optional, TypeExpr, parse_type
from modeling.types import Aggregate, EventDef, FieldSpec, Model, Scenario

TYPES = ".types"


@dataclass
class FieldView:
    name: str
    annotation: str
    default: str | None  # Python source, or None when required
    type_text: str
    description: str = ""


@dataclass
class ClassView:
    name: str
    doc: str
    fields: list[FieldView]


@dataclass
class EnumView:
    name: str
    doc: str
    members: list[tuple[str, str]]  # (CONSTANT, literal)


@dataclass
class EventView(ClassView):
    schema_version: int = 1
    sample: str = ""


@dataclass
class MethodView:
    name: str
    target: str  # command or event class
    doc: str
    body: list[str] = field(default_factory=list)  # stub body lines
    returns: str = ""


@dataclass
class AggregateView:
    name: str
    module: str
    doc: str
    state: ClassView
    commands: list[MethodView]
    events: list[MethodView]
    command_names: list[str]
    event_names: list[str]


@dataclass
class ReactionView:
    name: str
    module: str
    doc: str
    reads: list[str]
    methods: list[MethodView]
    issues: str = ""  # policies: the union of command classes they may issue
    row: ClassView | None = None  # read models: one row of the view
    reads_literal: str = ""


@dataclass
class ScenarioView:
    test_name: str
    title: str
    aggregate: str
    given: list[tuple[str, str]]  # (event class, payload literal)
    when: tuple[str, str]
    then: list[tuple[str, str]]
    error: str | None
    doc: str = ""


@dataclass
class PackageView:
    package: str
    model_name: str
    model_version: int
    doc: str
    enums: list[EnumView]
    value_objects: list[ClassView]
    events: list[EventView]
    commands: list[ClassView]
    aggregates: list[AggregateView]
    policies: list[ReactionView]
    read_models: list[ReactionView]
    scenarios: list[ScenarioView]
    imports: dict[str, list[str]] = field(default_factory=dict)  # module -> import blocks
    exports: list[str] = field(default_factory=list)


def build_views(model: Model, package: str) -> PackageView:
    contexts = model.contexts
    types = Types({vo.name: vo for c in contexts for vo in c.value_objects},
                  {e.name: e for c in contexts for e in c.enums})
    imports = {key: Imports() for key in ("types", "events", "commands", "bases")}
    enums = [EnumView(e.name, docstring(e.description or f"{e.name} values.", 4),
                      [(constant(v), literal(v)) for v in e.values])
             for c in contexts for e in c.enums]
    if enums:
        imports["types"].stdlib.add(("enum", "StrEnum"))
    value_objects = [ClassView(vo.name, docstring(vo.description or f"{vo.name} value.", 4),
                               _fields(vo.fields, types, imports["types"], None))
                     for c in contexts for vo in c.value_objects]
    if value_objects:
        imports["types"].kit.update({"BaseModel", "ConfigDict"})
    all_events: list[tuple[EventDef, Aggregate | None]] = [
        (e, a) for c in contexts for a in c.aggregates for e in a.events]
    all_events += [(e, None) for c in contexts for e in c.events]
    events = [_event_view(e, types, imports["events"]) for e, _ in all_events]
    imports["events"].kit.update({"EventPayload", "EventRegistry"})
    if events:
        imports["events"].stdlib.add(("typing", "ClassVar"))
    commands = [ClassView(cmd.name, docstring(cmd.description or f"{cmd.name} command.", 4),
                          _fields(cmd.fields, types, imports["commands"], TYPES))
                for c in contexts for a in c.aggregates for cmd in a.commands]
    imports["commands"].kit.update({"Command", "CommandRegistry"})
    if commands:
        imports["commands"].stdlib.add(("typing", "ClassVar"))
    aggregates = [_aggregate_view(a, types, imports["bases"]) for c in contexts
                  for a in c.aggregates]
    command_owner = {cmd.name: a.name for c in contexts for a in c.aggregates
                     for cmd in a.commands}
    event_fields = {e.name: e.fields for e, _ in all_events}
    command_fields = {cmd.name: cmd.fields for c in contexts for a in c.aggregates
                      for cmd in a.commands}
    policies = [
        ReactionView(
            p.name, snake(p.name), docstring(p.description or f"Policy {p.name}.", 4), p.on,
            [_policy_method(event, p.issues, event_fields[event], command_fields,
                            command_owner) for event in p.on],
            issues=" | ".join(p.issues))
        for c in contexts for p in c.policies]
    read_models = [
        ReactionView(
            r.name, snake(r.name), docstring(r.description or f"Read model {r.name}.", 4),
            r.from_, [_projection_method(event, r.name, r.fields, event_fields[event])
                      for event in r.from_],
            row=ClassView(f"{r.name}Row", docstring(f"One entry of {r.name}.", 4),
                          _state_fields(r.fields, types, imports["bases"])))
        for c in contexts for r in c.read_models]
    scenarios: list[ScenarioView] = []
    taken: set[str] = set()
    for c in contexts:
        for a in c.aggregates:
            scenarios += [_scenario_view(a, s, taken) for s in a.scenarios]
    bases = imports["bases"]
    bases.kit.update({"AggregateRoot", "BaseModel", "ConfigDict", "EventPayload"})
    bases.stdlib.add(("abc", "abstractmethod"))
    if aggregates:
        bases.kit.add("Command")
    if policies:
        bases.kit.update({"Dispatch", "Policy", "Event", "Command"})
        bases.stdlib.add(("collections.abc", "Sequence"))
    if read_models:
        bases.kit.update({"ReadModel", "Event"})
    if policies or read_models:
        bases.stdlib.add(("typing", "ClassVar"))
    if not aggregates:
        bases.kit -= {"AggregateRoot", "EventPayload"}
    for aggregate in aggregates:
        bases.local.setdefault(".commands", set()).update(aggregate.command_names)
        bases.local.setdefault(".events", set()).update(aggregate.event_names)
    for policy in policies:
        bases.local.setdefault(".commands", set()).update(policy.issues.split(" | "))
        bases.local.setdefault(".events", set()).update(policy.reads)
    for read_model in read_models:
        bases.local.setdefault(".events", set()).update(read_model.reads)
    bases.local = {module: names for module, names in bases.local.items() if names}
    if not (aggregates or policies or read_models):
        bases.kit = set()
        bases.stdlib = set()
    return PackageView(
        package=package, model_name=model.name, model_version=model.version,
        doc=docstring(model.description or f"The {model.name} model.", 0),
        enums=enums, value_objects=value_objects, events=events, commands=commands,
        aggregates=aggregates, policies=policies, read_models=read_models,
        scenarios=scenarios,
        imports={name: value.lines() for name, value in imports.items()},
    )


def _fields(fields: dict[str, FieldSpec], types: Types, imports: Imports,
            types_module: str | None) -> list[FieldView]:
    views = []
    for name, spec in fields.items():
        expr = parse_type(spec.type)
        default = (default_expression(spec, expr, types, imports, types_module, 4)
                   if spec.has_default else None)
        views.append(FieldView(name, annotation(expr, imports, types_module), default,
                               spec.type, spec.description))
    # Python needs fields without defaults first; keep the model's order otherwise.
    return sorted(views, key=lambda view: view.default is not None)


def _state_fields(fields: dict[str, FieldSpec], types: Types,
                  imports: Imports) -> list[FieldView]:
    """State and read-model rows start empty: every field gets a starting value."""
    views = []
    for name, spec in fields.items():
        expr = parse_type(spec.type)
        hint = annotation(expr, imports, TYPES)
        start: str | None
        if spec.has_default:
            start = default_expression(spec, expr, types, imports, TYPES, 4)
        else:
            start = zero_expression(expr, imports)
            if start is None:  # no natural zero (a datetime, an enum...): absent until set
                hint, start = f"{hint} | None", "None"
        views.append(FieldView(name, hint, start, spec.type, spec.description))
    return views


def _event_view(event: EventDef, types: Types, imports: Imports) -> EventView:
    fields = _fields(event.fields, types, imports, TYPES)
    example = {name: sample(parse_type(spec.type), types) for name, spec in event.fields.items()
               if not spec.has_default}
    return EventView(event.name, docstring(event.description or f"{event.name} event.", 4),
                     fields, event.schema_version, literal(example, 8))


def _aggregate_view(aggregate: Aggregate, types: Types, imports: Imports) -> AggregateView:
    state = ClassView(f"{aggregate.name}State",
                      docstring(f"The state of one {aggregate.name}.", 4),
                      _state_fields(aggregate.state, types, imports))
    state_types = {f.name: f.type_text for f in state.fields}
    events = {event.name: event for event in aggregate.events}
    commands = []
    for command in aggregate.commands:
        emits = ", ".join(command.emits) or "nothing"
        doc = (command.description + "\n\n" if command.description else "") + \
            f"Record the events it leads to ({emits}) or raise DomainError."
        body = _handler_body(command.fields, [events[e] for e in command.emits if e in events])
        commands.append(MethodView(f"handle_{snake(command.name)}", command.name,
                                   docstring(doc, 8), body))
    appliers = []
    for event in aggregate.events:
        shared = [name for name, spec in event.fields.items()
                  if state_types.get(name) in (spec.type, f"{spec.type} | None")]
        body = _copy_with("return self.state", shared, "event") if shared else \
            ["return self.state"]
        appliers.append(MethodView(f"apply_{snake(event.name)}", event.name,
                                   docstring(f"The state after {event.name}.", 8), body,
                                   returns=state.name))
    return AggregateView(aggregate.name, snake(aggregate.name),
                         docstring(aggregate.description or f"The {aggregate.name} aggregate.",
                                   4),
                         state, commands, appliers, [c.name for c in aggregate.commands],
                         [e.name for e in aggregate.events])


def _handler_body(fields: dict[str, FieldSpec], emitted: list[EventDef]) -> list[str]:
    if len(emitted) == 1:
        event = emitted[0]
        required = [n for n, spec in event.fields.items()
                    if not spec.has_default and not _optional(spec.type)]
        if all(n in fields and fields[n].type == event.fields[n].type for n in required):
            args = [f"{n}=command.{n}" for n, spec in event.fields.items()
                    if n in fields and fields[n].type == spec.type]
            return call(f"self.record({event.name}", args, ")", 8)
    return ['raise NotImplementedError("decide here: check self.state, then self.record(...) "',
            '                          "the events, or raise DomainError")']


def _policy_method(event: str, issues: list[str], fields: dict[str, FieldSpec],
                   command_fields: dict[str, dict[str, FieldSpec]],
                   owner: dict[str, str]) -> MethodView:
    body = ["# return [Dispatch(<aggregate id>, <command>(...))] for each command to send",
            "return []"]
    for command in issues:
        target_id = f"{snake(owner[command])}_id"
        needed = command_fields[command]
        if target_id in fields and all(
                n in fields and fields[n].type == spec.type
                for n, spec in needed.items() if not spec.has_default):
            args = [f"{n}=event.{n}" for n in needed if n in fields]
            body = call(f"return [Dispatch(event.{target_id}, {command}", args, ")]", 8)
            break
    return MethodView(f"on_{snake(event)}", event,
                      docstring(f"The commands to send when {event} happens.", 8), body,
                      returns=" | ".join(issues))


def _projection_method(event: str, read_model: str, row_fields: dict[str, FieldSpec],
                       fields: dict[str, FieldSpec]) -> MethodView:
    shared = [n for n, spec in fields.items()
              if n in row_fields and row_fields[n].type in (spec.type, f"{spec.type} | None")]
    body = [f"row = self.rows.get(envelope.actor_id, {read_model}Row())",
            *_copy_with("self.rows[envelope.actor_id] = row", shared, "event")]
    return MethodView(f"on_{snake(event)}", event,
                      docstring(f"Update the view for {event}.", 8), body)


def _scenario_view(aggregate: Aggregate, scenario: Scenario, taken: set[str]) -> ScenarioView:
    def pairs(messages: list[dict[str, dict[str, JsonValue]]]) -> list[tuple[str, str]]:
        return [(name, literal(payload, 8))
                for message in messages for name, payload in message.items()]

    ((command, payload),) = scenario.when.items()
    return ScenarioView(
        identifier(f"{snake(aggregate.name)}_{scenario.name}", taken), scenario.name,
        aggregate.name, pairs(scenario.given),
        (command, literal(payload, 8)), pairs(scenario.then),
        literal(scenario.error) if scenario.error is not None else None)


def _copy_with(head: str, names: list[str], source: str) -> list[str]:
    """``head.model_copy(update={...})`` taking ``names`` from ``source``, wrapped to fit."""
    items = [f"{name!r}: {source}.{name}" for name in names]
    flat = f"{head}.model_copy(update={{{', '.join(items)}}})"
    if 8 + len(flat) <= 99:
        return [flat]
    return [f"{head}.model_copy(update={{", *(f"    {item}," for item in items), "})"]


def _optional(type_text: str) -> bool:
    expr: TypeExpr = parse_type(type_text)
    return isinstance(expr, Optional)
