"""Views of read models: the row class, the typed queries of the base, the stub's
pre-filled handlers, and each read-model scenario as a test.

A read model keeps its rows in one of three ways (modeling/read_models.py): by a key
field of its events (``get(key)``, rows in the order their first event was read), as one
row (``current()``), or by actor id when the model says neither.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import JsonValue

from codegen.imports import Imports
from codegen.members import ClassView, FieldView, HandlerClassView, MethodView, _tuple, state_fields
from codegen.pysource import call, docstring, identifier, string
from codegen.typemap import Types, annotation, constructor
from modeling.identity import scenario_stream
from modeling.names import module_name, snake_case
from modeling.policy_checks import ACTOR_KEY, addresses
from modeling.read_models import row_shape
from modeling.typeexpr import parse_type
from modeling.types import Aggregate, FieldSpec, ReadModel, ReadModelScenario

Keeping = Literal["actor", "key", "single"]


@dataclass
class ReadModelView(HandlerClassView):
    row: ClassView
    keeping: Keeping
    key_field: str  # "" unless keeping == "key": the row's field holding the key
    key_annotation: str  # the type of get()'s key: the key field's, or str for actor ids


@dataclass
class RowScenarioView:
    test_name: str
    doc: str
    read_model: str
    given: list[tuple[str, str]] = field(default_factory=list)  # (actor id literal, event)
    then: list[str] = field(default_factory=list)  # row constructors


def read_model_view(read_model: ReadModel, event_fields: dict[str, dict[str, FieldSpec]],
                    types: Types, imports: Imports) -> ReadModelView:
    name = read_model.name
    shape = row_shape(read_model, event_fields)
    keeping: Keeping = "single" if read_model.single else "key" if shape.key else "actor"
    row_fields = state_fields(shape.fields, types, imports)
    key_field, key_annotation = "", "str"
    if shape.key is not None:
        key_field = shape.key[0]
        key_annotation = imports.use(annotation(parse_type(shape.key[1])))
        # The key comes first and has no starting value: a row always has its key.
        row_fields.insert(0, FieldView(key_field, key_annotation, None, shape.key[1]))
    row = ClassView(f"{name}Row", docstring(f"One row of {name}.", 4), row_fields)
    row_types = {f.name: f.type_text for f in row_fields if f.name != key_field}
    methods = []
    for event in read_model.from_:
        fields = event_fields[event]
        shared = [n for n, spec in fields.items()
                  if row_types.get(n) in (spec.type, f"{spec.type} | None")]
        methods.append(MethodView(f"on_{snake_case(event)}", event,
                                  docstring(f"Update the view for {event}.", 8),
                                  _handler_body(keeping, key_field, shared)))
    stub = Imports(modules={"typing"}, kit=True)
    stub.add_local("..bases", f"{name}Base")
    for event in read_model.from_:
        stub.add_local("..events", event)
    return ReadModelView(name, module_name(name),
                         docstring(read_model.description or f"Read model {name}.", 4),
                         read_model.from_, methods, stub.lines(), _tuple(read_model.from_),
                         row, keeping, key_field, key_annotation)


def _handler_body(keeping: Keeping, key_field: str, shared: list[str]) -> list[str]:
    """Look up (or start) the event's row and evolve it with what the event carries."""
    changes = [f"{name}=event.{name}" for name in shared]
    if keeping == "single":
        if not changes:
            return ["# what this event changes: self.row = self.row.evolve(<field>=...)",
                    "pass"]
        return [call("self.row = self.row.evolve", changes, "")]
    key = f"event.{key_field}" if keeping == "key" else "envelope.actor_id"
    kept = f"self.rows[{key}] = row"
    return [f"row = self.row_for({key})",
            call(f"{kept}.evolve", changes, "") if changes else kept]


def row_scenario_view(read_model: ReadModel, scenario: ReadModelScenario, taken: set[str],
                      event_fields: dict[str, dict[str, FieldSpec]],
                      owners: dict[str, Aggregate], emitters: dict[str, str], types: Types,
                      imports: Imports) -> RowScenarioView:
    """The scenario as a test: events fed to a fresh read model, then ``all()`` compared
    with the rows, written as typed constructors."""
    shape = row_shape(read_model, event_fields)
    row_specs = dict(shape.fields)
    if shape.key is not None:
        row_specs[shape.key[0]] = FieldSpec(type=shape.key[1])
    imports.add_local(f"..read_models.{module_name(read_model.name)}", read_model.name)
    view = RowScenarioView(identifier(f"{snake_case(read_model.name)}_{scenario.name}", taken),
                           docstring(scenario.name, 4), read_model.name)
    for message in addresses(scenario.given, ACTOR_KEY):
        event, payload = message.name, message.payload
        imports.add_local("..events", event)
        text = imports.use(constructor(event, dict(payload), event_fields[event], types),
                           "..types")
        stream = message.address or scenario_stream(event, payload, event_fields[event],
                                                    owners.get(event), emitters.get(event))
        view.given.append((string(stream), text))
    row_name = f"{read_model.name}Row"
    for row in scenario.then:
        imports.add_local("..bases", row_name)
        values: dict[str, JsonValue] = dict(row)
        view.then.append(imports.use(constructor(row_name, values, row_specs, types),
                                     "..types"))
    return view
