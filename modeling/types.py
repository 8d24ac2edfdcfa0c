"""The canonical form of an EventStorming model.

YAML files and Python models both end up as these frozen pydantic objects, so the
two forms of one model compare equal and compile to the same code. The shapes
follow the YAML format (see docs/model-reference.md); shorthands such as
``fields: {sku: str}`` or ``actors: [Customer]`` are normalized on the way in.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, JsonValue

from modeling.typeexpr import TypeSyntaxError, parse_type

MAX_VERSION = 10**9
"""Largest model version and event schema_version: one is bumped by one at a time, and
the number is printed into generated headers and module names."""


def _version(value: Any) -> Any:
    # Strict: YAML's `true` or `1.0` is no version (pydantic would read them as 1).
    if type(value) is not int or not 1 <= value <= MAX_VERSION:
        if isinstance(value, bool):
            got = "true/false"
        elif isinstance(value, int) and len(str(value)) > 12:
            got = f"a number of {len(str(value))} digits"
        else:
            got = repr(value) if isinstance(value, int | float) else "text"
        raise ValueError(f"a version is a whole number from 1 to {MAX_VERSION:_} (bump it by "
                         f"one for each change), got {got}")
    return value


Version = Annotated[int, BeforeValidator(_version)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


def one_spelling(text: str) -> str:
    """A type expression in the one spelling models, locks and generated code use
    (``str | None``, ``dict[str, int]``), whatever spacing it was written with; a text that
    does not parse stays as written, for validation to point into it."""
    # Codegen decides which fields a stub copies by comparing type texts, and the lock's
    # checks compare them with the model's: two spellings of one type must be one text.
    try:
        return str(parse_type(text))
    except TypeSyntaxError:
        return text


TypeText = Annotated[str, AfterValidator(one_spelling)]


class FieldSpec(_Frozen):
    """One field: a type expression (in one spelling: ``str | None``, ``dict[str, int]``,
    whatever spacing the model used), an optional default and a description."""

    type: TypeText = Field(description="str int float bool decimal datetime date uuid bytes, "
                                  "list[T], dict[str, T], T | None, or a declared type")
    default: JsonValue = Field(default=None, description="default value (JSON)")
    description: str = ""

    @property
    def has_default(self) -> bool:
        return "default" in self.model_fields_set


def _field_shorthand(value: Any) -> Any:
    if isinstance(value, dict):
        return {name: {"type": spec} if isinstance(spec, str) else spec
                for name, spec in value.items()}
    return value


Fields = Annotated[
    dict[str, FieldSpec],
    BeforeValidator(_field_shorthand, json_schema_input_type=dict[str, str | FieldSpec]),
]


class Element(_Frozen):
    name: str
    description: str = ""
    ignore: list[str] = Field(default_factory=list,
                              description="lint codes not to report for this element")


def _name_shorthand(value: Any) -> Any:
    return {"name": value} if isinstance(value, str) else value


class Actor(Element):
    """Someone who issues commands (written as a plain name or a mapping)."""


ActorEntry = Annotated[Actor, BeforeValidator(_name_shorthand, json_schema_input_type=str | Actor)]


class ValueObject(Element):
    fields: Fields = Field(default_factory=dict)


class EnumType(Element):
    values: list[str]


class EventDef(Element):
    fields: Fields = Field(default_factory=dict)
    schema_version: Version = Field(default=1, ge=1, le=MAX_VERSION)


class CommandDef(Element):
    actor: str | None = None
    fields: Fields = Field(default_factory=dict)
    emits: list[str] = Field(default_factory=list)


Payload = dict[str, JsonValue]


def _none_payloads(value: Any) -> Any:
    if isinstance(value, dict):
        return {name: {} if payload is None else payload for name, payload in value.items()}
    return value


Message = Annotated[dict[str, Payload], BeforeValidator(_none_payloads)]
"""One event or command in a scenario: ``{OrderPlaced: {customer_id: c1}}``."""


class Scenario(_Frozen):
    """Given these events, when this command, then these events (or this error)."""

    name: str
    given: list[Message] = Field(default_factory=list)
    when: Message
    then: list[Message] = Field(default_factory=list)
    error: str | None = Field(
        default=None, description="the command is rejected with a DomainError whose "
                                  "message contains this text")


class Aggregate(Element):
    id: str | None = Field(default=None, description="the field every command carries that "
                                                    "names the instance (e.g. order_id)")
    id_prefix: str | None = Field(default=None, description="actor ids are "
                                  "<id_prefix>-<value>; default: the snake_case name")
    state: Fields = Field(default_factory=dict)
    commands: list[CommandDef] = Field(default_factory=list)
    events: list[EventDef] = Field(default_factory=list)
    scenarios: list[Scenario] = Field(default_factory=list)


PolicyMessage = Annotated[dict[str, JsonValue], BeforeValidator(_none_payloads)]
"""One event or command in a policy scenario: ``{OrderPaid: {order_id: o1}}``, with
``actor: order-o1`` beside an event (its stream) or ``to: shipment-o1`` beside a command
(its target); modeling/policy_checks.py takes it apart."""


class PolicyScenario(_Frozen):
    """Given these events (fed to the read models the policy reads), when this event,
    then the policy dispatches exactly these commands."""

    name: str
    given: list[PolicyMessage] = Field(default_factory=list)
    when: PolicyMessage
    then: list[PolicyMessage] | None = Field(
        default=None, description="the commands it dispatches, in order; [] for none")


class Policy(Element):
    """Whenever one of ``on`` happens, issue ``issues`` (reading ``reads`` to decide)."""

    on: list[str]
    issues: list[str]
    reads: list[str] = Field(default_factory=list,
                             description="read models the policy consults")
    scenarios: list[PolicyScenario] = Field(default_factory=list)


Row = dict[str, JsonValue]
"""One row of a read model in a scenario: ``{order_id: o1, status: paid}``."""


class ReadModelScenario(_Frozen):
    """Given these events, the read model's ``all()`` returns exactly these rows."""

    name: str
    given: list[PolicyMessage] = Field(
        default_factory=list, description="events as `{Name: {field: value}}`, with "
        "`actor: <actor id>` beside one to name its stream")
    then: list[Row]


class ReadModel(Element):
    """A view kept from the events of ``from``: one row per ``key`` value, one row in
    all (``single``), or one row per actor id when neither is given."""

    from_: list[str] = Field(alias="from")
    key: str | None = Field(default=None, description="the event field every event of "
                            "`from` carries that picks the row (e.g. order_id)")
    single: bool = Field(default=False, description="one row for the whole view (a "
                         "counter, a daily sheet)")
    fields: Fields = Field(default_factory=dict)
    scenarios: list[ReadModelScenario] = Field(default_factory=list)


class ExternalSystem(Element):
    emits: list[str] = Field(default_factory=list)
    receives: list[str] = Field(default_factory=list)


class HotSpot(_Frozen):
    """An open question, drawn on diagrams."""

    text: str
    about: str | None = Field(default=None, description="name of the element it concerns")


class BoundedContext(Element):
    actors: list[ActorEntry] = Field(default_factory=list)
    value_objects: list[ValueObject] = Field(default_factory=list)
    enums: list[EnumType] = Field(default_factory=list)
    aggregates: list[Aggregate] = Field(default_factory=list)
    events: list[EventDef] = Field(
        default_factory=list,
        description="events no aggregate owns, e.g. emitted by external systems")
    policies: list[Policy] = Field(default_factory=list)
    read_models: list[ReadModel] = Field(default_factory=list)
    external_systems: list[ExternalSystem] = Field(default_factory=list)
    hot_spots: list[HotSpot] = Field(default_factory=list)


class Relationship(_Frozen):
    """One line of the context map, in Context Mapper's terms: ``upstream`` and
    ``downstream`` with their roles, or a symmetric ``shared_kernel`` / ``partnership``
    of two contexts (checked in modeling/context_map.py)."""

    upstream: str | None = None
    downstream: str | None = None
    kind: str | None = Field(default=None, description="upstream_downstream (the default) "
                             "or customer_supplier")
    upstream_roles: list[str] = Field(default_factory=list,
                                      description="open_host_service, published_language")
    downstream_roles: list[str] = Field(default_factory=list,
                                        description="anticorruption_layer or conformist")
    shared_kernel: list[str] | None = Field(default=None, description="two contexts")
    partnership: list[str] | None = Field(default=None, description="two contexts")
    description: str = ""


class Model(_Frozen):
    """A whole EventStorming model."""

    name: str = Field(alias="model")
    version: Version = Field(default=1, ge=1, le=MAX_VERSION)
    description: str = ""
    contexts: list[BoundedContext] = Field(default_factory=list)
    context_map: list[Relationship] = Field(
        default_factory=list, description="relationships between the contexts")
