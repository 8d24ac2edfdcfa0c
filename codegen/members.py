"""Views of the model's classes and of the stubs: fields, aggregates, policies and
scenarios (read models: read_model_views.py), each with the text templates place and the
imports it needs."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import JsonValue

from codegen.imports import Imports
from codegen.pysource import call, docstring, identifier, string
from codegen.typemap import (
    Types,
    annotation,
    constructor,
    default_expression,
    sample,
    zero_expression,
)
from modeling.identity import id_prefix
from modeling.names import module_name, snake_case
from modeling.typeexpr import Optional, parse_type
from modeling.types import Aggregate, CommandDef, EventDef, FieldSpec, Policy, Scenario


@dataclass
class FieldView:
    name: str
    annotation: str
    default: str | None  # Python source, or None when required
    type_text: str
    description: str = ""
    evolve_annotation: str = ""  # its parameter in evolve(): the type, or "not given"

    def __post_init__(self) -> None:
        # ruff (RUF036) wants None last in a union.
        head, none, _ = self.annotation.rpartition(" | None")
        self.evolve_annotation = (f"{head} | kit.Unset | None" if none and not _ else
                                  f"{self.annotation} | kit.Unset")


@dataclass
class ClassView:
    name: str
    doc: str
    fields: list[FieldView]


@dataclass
class CommandView(ClassView):
    actor_id: str | None = None  # expression of target_actor_id, when the aggregate has an id


@dataclass
class EnumView:
    name: str
    doc: str
    members: list[tuple[str, str]]  # (CONSTANT, literal)


@dataclass
class EventView(ClassView):
    schema_version: int = 1
    sample: str = ""  # a typed constructor of an example payload, for generated tests
    test_name: str = ""


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
    stub_imports: list[str]
    repository: str  # its variable in app.py
    actor_id: str  # literal of a sample actor id, for generated tests
    event_types: str  # literal tuple of its event type names


@dataclass
class HandlerClassView:
    """What a generated class handling events shows in its base and its stub: a policy's,
    a projection's or a read model's."""

    name: str
    module: str
    doc: str
    reads: list[str]
    methods: list[MethodView]
    stub_imports: list[str]
    reads_literal: str


@dataclass
class ReactionView(HandlerClassView):
    issues: list[str] = field(default_factory=list)  # policies: the commands they may issue
    consults: list[tuple[str, str]] = field(default_factory=list)  # policies: (attr, read model)
    consult_args: str = ""  # policies: make_policies' arguments (codegen/policy_views.py)


@dataclass
class ScenarioView:
    test_name: str
    doc: str
    aggregate: str
    actor_id: str
    given: list[str]  # typed constructor expressions
    when: str
    then: list[str]
    error: str | None


def class_fields(fields: dict[str, FieldSpec], types: Types, imports: Imports,
                 types_module: str | None = ".types") -> list[FieldView]:
    views = []
    for name, spec in fields.items():
        expr = parse_type(spec.type)
        default = (imports.use(default_expression(spec, expr, types), types_module)
                   if spec.has_default else None)
        views.append(FieldView(name, imports.use(annotation(expr), types_module), default,
                               spec.type, spec.description))
    # Python needs fields without defaults first; keep the model's order otherwise.
    return sorted(views, key=lambda view: view.default is not None)


def event_view(event: EventDef, types: Types, imports: Imports, test_imports: Imports,
               taken: set[str]) -> EventView:
    payload = {name: sample(parse_type(spec.type), types)
               for name, spec in event.fields.items() if not spec.has_default}
    test_imports.add_local("..events", event.name)
    example = test_imports.use(constructor(event.name, payload, event.fields, types), "..types")
    doc = docstring(event.description, 4) if event.description else ""
    return EventView(event.name, doc, class_fields(event.fields, types, imports),
                     event.schema_version, example, identifier(snake_case(event.name), taken))


def command_view(command: CommandDef, aggregate: Aggregate, types: Types,
                 imports: Imports) -> CommandView:
    fields = class_fields(command.fields, types, imports)
    actor_id = None
    if aggregate.id is not None and aggregate.id in command.fields:
        value = f"self.{aggregate.id}"
        if command.fields[aggregate.id].type != "str":
            value = f"str({value})"
        actor_id = f"{string(id_prefix(aggregate) + '-')} + {value}"
    doc = docstring(command.description, 4) if command.description else ""
    return CommandView(command.name, doc, fields, actor_id)


def state_fields(fields: dict[str, FieldSpec], types: Types,
                 imports: Imports) -> list[FieldView]:
    """State and read-model rows start empty: every field gets a starting value."""
    views = []
    for name, spec in fields.items():
        expr = parse_type(spec.type)
        hint = imports.use(annotation(expr))
        start = default_expression(spec, expr, types) if spec.has_default else \
            zero_expression(expr)
        if start is None:  # no natural zero (a datetime, an enum...): absent until set
            hint, text = f"{hint} | None", "None"
        else:
            text = imports.use(start)
        views.append(FieldView(name, hint, text, spec.type, spec.description))
    return views


def _stub_imports(kit: bool, modules: set[str], local: dict[str, list[str]]) -> list[str]:
    imports = Imports(modules=modules, kit=kit)
    for module, names in local.items():
        for name in names:
            imports.add_local(module, name)
    return imports.lines()


def aggregate_view(aggregate: Aggregate, number: int, types: Types,
                   imports: Imports) -> AggregateView:
    state = ClassView(f"{aggregate.name}State",
                      docstring(f"The state of one {aggregate.name}.", 4),
                      state_fields(aggregate.state, types, imports))
    state_types = {f.name: f.type_text for f in state.fields}
    events = {event.name: event for event in aggregate.events}
    commands = []
    for command in aggregate.commands:
        emits = ", ".join(command.emits) or "nothing"
        doc = (command.description + "\n\n" if command.description else "") + \
            f"Record the events it leads to ({emits}) or raise DomainError."
        body = _handler_body(command, [events[e] for e in command.emits if e in events])
        commands.append(MethodView(f"handle_{snake_case(command.name)}", command.name,
                                   docstring(doc, 8), body))
    appliers = []
    for event in aggregate.events:
        shared = [name for name, spec in event.fields.items()
                  if state_types.get(name) in (spec.type, f"{spec.type} | None")]
        body = [_copy_with("return self.state", shared, "event") if shared else
                "return self.state"]
        appliers.append(MethodView(f"apply_{snake_case(event.name)}", event.name,
                                   docstring(f"The state after {event.name}.", 8), body,
                                   returns=state.name))
    module = module_name(aggregate.name)
    command_names = [c.name for c in aggregate.commands]
    event_names = [e.name for e in aggregate.events]
    bases = [f"{aggregate.name}Base", *([state.name] if event_names else [])]
    stub = _stub_imports(False, {"typing"}, {"..bases": bases, "..commands": command_names,
                                        "..events": event_names})
    return AggregateView(
        aggregate.name, module,
        docstring(aggregate.description or f"The {aggregate.name} aggregate.", 4),
        state, commands, appliers, command_names, event_names, stub,
        # `<module>_repository = kit.Repository(` must fit in a line: long names get a number.
        f"{module}_repository" if len(module) <= 29 else f"repository_{number}",
        string(f"{module}-1"), _tuple(event_names))


def _handler_body(command: CommandDef, emitted: list[EventDef]) -> list[str]:
    fields = command.fields
    if len(emitted) == 1:
        event = emitted[0]
        required = [n for n, spec in event.fields.items()
                    if not spec.has_default and not _optional(spec.type)]
        if all(n in fields and fields[n].type == event.fields[n].type for n in required):
            # An optional field without a default is still required by the class: None
            # when the command does not carry it.
            args = [f"{n}=command.{n}" if n in fields and fields[n].type == spec.type
                    else f"{n}=None" for n, spec in event.fields.items()
                    if (n in fields and fields[n].type == spec.type)
                    or (not spec.has_default and _optional(spec.type))]
            return [call(f"self.record({event.name}", args, ")")]
    return ['raise NotImplementedError(',
            '    "decide here: check self.state, then self.record(...) the events, "',
            '    "or raise DomainError"',
            ")"]


def policy_view(policy: Policy, event_fields: dict[str, dict[str, FieldSpec]],
                commands: dict[str, tuple[CommandDef, Aggregate]]) -> ReactionView:
    methods = []
    for event in policy.on:
        fields = event_fields[event]
        body = ["# for each command: command = <Command>(...), then",
                "# return [kit.Dispatch(command.target_actor_id(), command)]",
                "return []"]
        for issued in policy.issues:
            command, owner = commands[issued]
            needed = command.fields
            # The command names its own target (the aggregate's declared id), so the stub
            # needs no hand-written actor id: fill it when the event carries every field.
            if owner.id is not None and all(
                    n in fields and fields[n].type == spec.type
                    for n, spec in needed.items() if not spec.has_default):
                # A field with a default is passed on only when the types match too.
                args = [f"{n}=event.{n}" for n, spec in needed.items()
                        if n in fields and fields[n].type == spec.type]
                body = [call(f"command = {issued}", args, ""),
                        "return [kit.Dispatch(command.target_actor_id(), command)]"]
                break
        methods.append(MethodView(f"on_{snake_case(event)}", event,
                                  docstring(f"The commands to send when {event} happens.", 8),
                                  body, returns=" | ".join(policy.issues)))
    stub = _stub_imports(True, {"collections.abc", "typing"}, {
        "..bases": [f"{policy.name}Base"], "..commands": policy.issues, "..events": policy.on})
    return ReactionView(policy.name, module_name(policy.name),
                        docstring(policy.description or f"Policy {policy.name}.", 4),
                        policy.on, methods, stub, _tuple(policy.on), issues=policy.issues)


def scenario_view(aggregate: Aggregate, scenario: Scenario, taken: set[str], types: Types,
                  imports: Imports) -> ScenarioView:
    """The scenario as a test; its payloads are typed constructors, imported here."""
    events = {event.name: event.fields for event in aggregate.events}
    commands = {command.name: command.fields for command in aggregate.commands}

    def build(name: str, payload: dict[str, JsonValue], module: str,
              fields: dict[str, FieldSpec]) -> str:
        imports.add_local(module, name)
        return imports.use(constructor(name, payload, fields, types), "..types")

    def pairs(messages: list[dict[str, dict[str, JsonValue]]]) -> list[str]:
        return [build(name, payload, "..events", events[name])
                for message in messages for name, payload in message.items()]

    ((command, payload),) = scenario.when.items()
    imports.add_local(f"..aggregates.{module_name(aggregate.name)}", aggregate.name)
    if scenario.error is not None:
        imports.kit = True
    return ScenarioView(
        identifier(f"{snake_case(aggregate.name)}_{scenario.name}", taken),
        docstring(scenario.name, 4), aggregate.name,
        string(f"{module_name(aggregate.name)}-1"), pairs(scenario.given),
        build(command, payload, "..commands", commands[command]), pairs(scenario.then),
        string(scenario.error) if scenario.error is not None else None)


def _tuple(names: list[str]) -> str:
    if not names:
        return "()"
    if len(names) == 1:
        return f"({string(names[0])},)"
    return "(" + ", ".join(string(name) for name in names) + ")"


def _copy_with(head: str, names: list[str], source: str) -> str:
    """``head.evolve(name=source.name, ...)``: the typed copy mypy checks."""
    if not names:
        return head
    return call(f"{head}.evolve", [f"{name}={source}.{name}" for name in names], "")


def _optional(type_text: str) -> bool:
    return isinstance(parse_type(type_text), Optional)
