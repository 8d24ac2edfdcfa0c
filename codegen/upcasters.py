"""Views of the upcasters: one stub per schema_version step of an event, the module that
registers them, and the generated tests that run each on an example old payload.

Everything comes from the lock (modeling/contract.py), the only place the schema of an
older version survives; the plan of each step (what is mechanical, what a person writes)
is modeling/upcasting.py's. Names and values from the lock reach code only through
pysource, so a hand-edited lock cannot inject code either.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import JsonValue

from codegen.imports import Imports
from codegen.pysource import docstring, identifier, literal, string
from codegen.typemap import Types, sample
from modeling.contract import Lock, LockError, Schema
from modeling.names import module_name, printable
from modeling.typeexpr import TypeSyntaxError, parse_type
from modeling.types import EnumType, FieldSpec, Model, ValueObject
from modeling.upcasting import UpcastStep, stored_default, upcast_steps


@dataclass
class StepView:
    event: str
    module: str  # book_placed_on_hold_v1_to_v2
    from_version: int
    to_version: int
    doc: str  # the module docstring
    function_doc: str
    body: list[str]  # the upcast function's statements before ``return data``


@dataclass
class ExampleView:
    test_name: str
    event: str  # a string literal
    version: int
    payload: str  # a Python literal of the example old payload


@dataclass
class UpcastersView:
    steps: list[StepView] = field(default_factory=list)
    examples: list[ExampleView] = field(default_factory=list)
    imports: list[str] = field(default_factory=list)  # of upcasters/__init__.py


def upcaster_views(model: Model, lock: Lock | None) -> UpcastersView:
    """The upcasters of every event of ``model`` whose lock entry has older versions."""
    view = UpcastersView()
    if lock is None:
        return view
    taken: set[str] = set()
    current = {e.name for c in model.contexts
               for e in [*(e for a in c.aggregates for e in a.events), *c.events]}
    for name, entry in sorted(lock["events"].items()):
        if name not in current:
            continue
        versions: dict[str, Schema] = entry["versions"]
        for step in upcast_steps(name, versions):
            view.steps.append(step_view(step, versions))
            old = versions[str(step.from_version)]
            test = f"{module_name(name)}_v{step.from_version}"
            view.examples.append(ExampleView(
                identifier(test, taken), string(name), step.from_version,
                literal(example_payload(old, name, step.from_version))))
            if not all(spec["required"] for spec in old["fields"].values()):
                # Stored before its optional fields were added (or without them): the lock
                # keeps one schema per version, so such payloads have the same version.
                view.examples.append(ExampleView(
                    identifier(f"{test}_without_defaults", taken), string(name),
                    step.from_version,
                    literal(example_payload(old, name, step.from_version, defaults=False))))
    imports = Imports(kit=True)
    for made in view.steps:
        imports.add_local(".", made.module)
    view.imports = imports.lines()
    return view


def step_view(step: UpcastStep, versions: dict[str, Schema]) -> StepView:
    a, b = step.from_version, step.to_version
    module = f"{module_name(step.event)}_v{a}_to_v{b}"
    doc = docstring(
        f"{step.event} v{a} -> v{b}: a payload stored at schema_version {a} made into one of "
        f"version {b}.\n\naether-gen created this file once and never overwrites it. The "
        f"payload is plain JSON (the version {a} class no longer exists); the event registry "
        f"runs the upcasters in version order on every {step.event} stored before the "
        f"current version, then validates the result with the current class.", 0)
    function_doc = docstring(
        f"Version {a}: {_outline(versions[str(a)])}.\nVersion {b}: "
        f"{_outline(versions[str(b)])}.", 4)
    body = [line for old, new in step.renames.items() for line in (
        # The plan pairs a field that went with one of the same type that came: a guess.
        "# a guess from the types (one field went, one of its type came): is it a rename?",
        f"data[{string(new)}] = data.pop({string(old)}{_or_default(step, old)})")]
    body += [f"data.pop({string(name)}, None)" for name in step.dropped]
    body += [f"data.setdefault({string(name)}, {literal(default)})"
             for name, default in step.defaults.items()]
    if step.manual:
        todo = ", ".join(string(text) for text in step.manual)
        body.append(f"kit.not_written(__file__, {string(step.event)}, {a}, {b}, [{todo}])")
    return StepView(step.event, module, a, b, doc, function_doc, body)


def _or_default(step: UpcastStep, old: str) -> str:
    """``, <default>`` when a payload may lack the renamed field (it had a default)."""
    if old not in step.rename_defaults:
        return ""
    return f", {literal(step.rename_defaults[old])}"


def _outline(schema: Schema) -> str:
    fields = schema["fields"]
    return ", ".join(f"{name} ({spec['type']})" for name, spec in sorted(fields.items())) \
        or "no fields"


def example_payload(schema: Schema, event: str, version: int,
                    defaults: bool = True) -> dict[str, JsonValue]:
    """A payload an event of this locked version could have been stored with: every field,
    a sample value where it has no default (``defaults=False``: only those, as events
    stored before the optional fields were added to the version hold them)."""
    try:
        types = _types(schema.get("types", {}))
        # A bytes field's own default is its text; the stored payload holds base64.
        return {name: sample(parse_type(spec["type"]), types) if spec["required"]
                else stored_default(spec["type"], spec.get("default"))
                for name, spec in schema["fields"].items() if spec["required"] or defaults}
    except (TypeSyntaxError, KeyError, ValueError) as error:
        raise LockError(f"the lock's version {version} of {printable(event)} cannot be read "
                        f"({type(error).__name__}: {printable(str(error))}); restore the lock "
                        f"from version control") from None


def _types(declared: dict[str, Any]) -> Types:
    value_objects: dict[str, ValueObject] = {}
    enums: dict[str, EnumType] = {}
    for name, spec in declared.items():
        if "enum" in spec:
            enums[name] = EnumType(name=name, values=[str(v) for v in spec["enum"]])
            continue
        value_objects[name] = ValueObject(name=name, fields={
            field_name: FieldSpec(type=f["type"]) if f["required"]
            else FieldSpec(type=f["type"], default=f.get("default"))
            for field_name, f in spec["fields"].items()})
    return Types(value_objects, enums)
