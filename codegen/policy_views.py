"""Views for what policies read, their scenarios, and the external systems' recorders.

``add_policy_views`` runs inside ``build_views`` and adds to the package view:

- each policy's read models (``ReactionView.consults``): constructor parameters of its
  base class and the arguments ``make_policies`` passes;
- ``policy_scenarios``, generated into tests/test_policies.py;
- ``external_systems``, generated into external.py.
"""

from __future__ import annotations

import keyword
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import JsonValue

from codegen.imports import Imports
from codegen.members import ReactionView
from codegen.pysource import call, docstring, identifier, string
from codegen.typemap import Types, constructor
from modeling.identity import command_target, event_emitters, scenario_stream
from modeling.names import module_name, snake_case
from modeling.policy_checks import (
    ACTOR_KEY,
    TARGET_KEY,
    addresses,
    command_owners,
    event_owners,
)
from modeling.types import Aggregate, EventDef, FieldSpec, Model, Policy

POLICY_MEMBERS = frozenset({"name", "position", "react", "handle", "command_id",
                            "reacts_to"})
"""Attributes kit.Policy has: a read model attribute never takes one of these names."""
PARAMETERS = frozenset({"self", "cls", *keyword.softkwlist, "type"})
"""Names an attribute never takes either: each is also a parameter of the base class's
``__init__(self, ...)`` (``Self`` -> ``self`` would repeat ``self``), and a soft keyword
reads badly there (``module_name`` already adds ``_`` to hard keywords)."""


@dataclass
class ExternalSystemView:
    name: str
    doc: str
    prefix: str  # literal
    emits: str  # literal tuple of event type names
    payload: str  # the union of its event classes


@dataclass
class PolicyScenarioView:
    test_name: str
    doc: str
    policy: str
    arguments: list[str]  # read model constructors, in the order of `reads`
    read_models: list[str]  # expressions of the policy's read model attributes
    given: list[str]  # "(actor id, Event(...))"
    when: str
    then: list[str]  # "kit.Dispatch(actor id, Command(...))"


def attributes(reads: list[str]) -> dict[str, str]:
    """The attribute a policy keeps each read model it reads in: ``DailySheet`` ->
    ``daily_sheet``; never a member of kit.Policy, a reserved parameter name (``Self`` ->
    ``self_view``), an ``on_<event>`` handler, or another read model's attribute
    (``Name`` -> ``name_view``, then ``NameView`` -> ``name_view_2``)."""
    taken: set[str] = set()
    found = {}
    for read in reads:
        name = module_name(read)
        if name in POLICY_MEMBERS or name in PARAMETERS or name.startswith("on_"):
            name = f"{name}_view"
        unique, number = name, 2
        while unique in taken:
            unique, number = f"{name}_{number}", number + 1
        taken.add(unique)
        found[read] = unique
    return found


def add_policy_views(model: Model, policies: list[ReactionView], types: Types,
                     imports: dict[str, Imports]) -> tuple[list[str], list[PolicyScenarioView],
                                                           list[ExternalSystemView]]:
    """Fill ``consults`` of each policy view; returns the TYPE_CHECKING imports of
    bases.py, the policy scenarios and the external systems."""
    declared = {p.name: p for c in model.contexts for p in c.policies}
    modules = {rm.name: module_name(rm.name) for c in model.contexts for rm in c.read_models}
    checking: set[str] = set()
    # `        <attr>: "<ReadModel>",` must fit in 100 columns, and the attribute is the
    # snake_case name (up to 59) plus up to `_view_9`: a long name is imported as a short
    # alias for the annotation (the attribute keeps its name).
    long = sorted(name for name, module in modules.items() if len(module) + len(name) > 78)
    alias = {name: f"_ReadModel{n}" for n, name in enumerate(long, start=1)}
    for view in policies:
        reads = [name for name in declared[view.name].reads if name in modules]
        named = attributes(reads)
        view.consults = [(named[name], alias.get(name, name)) for name in reads]
        view.consult_args = ", ".join(f"kit.read_model_of(read_models, {name})"
                                      for name in reads)
        for name in reads:
            checking.add(f"from .read_models.{modules[name]} import {name}"
                         + (f" as {alias[name]}" if name in alias else ""))
        if reads:
            imports["app"].modules.add("collections.abc")
            shown = ", ".join(f"self.{attr}" for attr, _ in view.consults)
            for method in view.methods:
                # Wrapped: a policy may read many read models, and stubs stay within 100
                # columns (E501) at the method body's indentation.
                method.body[:0] = [f"# {line}" for line in textwrap.wrap(
                    f"{shown}: up to date through this event", width=88)]
    scenarios = _scenarios(model, types, imports)
    return sorted(checking), scenarios, _external_systems(model, imports)


def _scenarios(model: Model, types: Types,
               imports: dict[str, Imports]) -> list[PolicyScenarioView]:
    test = imports["test_policies"] = Imports(kit=True)
    taken: set[str] = set()
    owners = command_owners(model)
    defined = event_owners(model)
    emitters = event_emitters(model)
    views = []
    for c in model.contexts:
        for policy in c.policies:
            for scenario in policy.scenarios:
                views.append(_scenario(policy, scenario.name, scenario.given, scenario.when,
                                       scenario.then or [], taken, types, test, owners,
                                       defined, emitters))
    return views


def _scenario(policy: Policy, name: str, given: list[dict[str, JsonValue]],
              when: dict[str, JsonValue], then: list[dict[str, JsonValue]], taken: set[str],
              types: Types, test: Imports, owners: dict[str, Aggregate],
              event_owners: Mapping[str, tuple[EventDef, Aggregate | None]],
              emitters: dict[str, str]) -> PolicyScenarioView:
    def build(name: str, payload: Mapping[str, JsonValue], module: str,
              fields: dict[str, FieldSpec]) -> str:
        test.add_local(module, name)
        return test.use(constructor(name, dict(payload), fields, types), "..types")

    def event(raw: dict[str, JsonValue]) -> str:
        ((message),) = addresses([raw], ACTOR_KEY)
        definition, owner = event_owners[message.name]
        fields = definition.fields
        actor = message.address or scenario_stream(message.name, message.payload, fields,
                                                   owner, emitters.get(message.name))
        return f"({string(actor)}, {build(message.name, message.payload, '..events', fields)})"

    def command(raw: dict[str, JsonValue]) -> str:
        ((message),) = addresses([raw], TARGET_KEY)
        owner = owners[message.name]
        fields = next(c.fields for c in owner.commands if c.name == message.name)
        target = message.address or command_target(owner, message.name, message.payload)
        assert target is not None  # validated: a command without identity names `to`
        built = build(message.name, message.payload, "..commands", fields)
        return call("kit.Dispatch", [string(target), built], "")

    test.add_local("..events", "registry")
    test.add_local(f"..policies.{module_name(policy.name)}", policy.name)
    for read in policy.reads:
        test.add_local(f"..read_models.{module_name(read)}", read)
    return PolicyScenarioView(
        identifier(f"{snake_case(policy.name)}_{name}", taken), docstring(name, 4),
        policy.name, [f"{read}()" for read in policy.reads],
        [f"policy.{attribute}" for attribute in attributes(policy.reads).values()],
        [event(raw) for raw in given], event(when), [command(raw) for raw in then])


def _external_systems(model: Model, imports: dict[str, Imports]) -> list[ExternalSystemView]:
    external = imports["external"] = Imports(kit=True, modules={"typing"})
    views = []
    for c in model.contexts:
        for system in c.external_systems:
            if not system.emits:
                continue  # it only receives: nothing to record
            for name in system.emits:
                external.add_local(".events", name)
            external.add_local(".events", "registry")
            views.append(ExternalSystemView(
                system.name,
                docstring((system.description + "\n\n" if system.description else "")
                          + f"Records what {system.name} reports in streams "
                          f"`{snake_case(system.name)}-<key>`.", 4),
                string(snake_case(system.name)),
                "(" + ", ".join(string(e) for e in system.emits) + ",)",
                " | ".join(system.emits)))
    return views
