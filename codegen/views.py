"""The model, digested for templates: every name, annotation, literal and docstring in
generated code is computed here, already safe, so templates only place text.

Each generated module gets its ``Imports`` from the text placed in it, in one place:
the builder of that module's view (``_types``, ``_events``, ... below).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from codegen.imports import Imports, export_order
from codegen.members import (
    AggregateView,
    ClassView,
    CommandView,
    EnumView,
    EventView,
    FieldView,
    ReactionView,
    ScenarioView,
    aggregate_view,
    class_fields,
    command_view,
    event_view,
    policy_view,
    scenario_view,
)
from codegen.policy_views import ExternalSystemView, PolicyScenarioView, add_policy_views
from codegen.pysource import constant, docstring, string
from codegen.read_model_views import (
    ReadModelView,
    RowScenarioView,
    read_model_view,
    row_scenario_view,
)
from codegen.typemap import Types
from codegen.upcasters import UpcastersView, upcaster_views
from modeling.contract import Lock
from modeling.identity import event_emitters
from modeling.typeexpr import named_types, parse_type
from modeling.types import Model, ValueObject

__all__ = ["ClassView", "FieldView", "PackageView", "build_views"]


@dataclass
class PackageView:
    package: str
    model_name: str
    model_version: int
    doc: str
    enums: list[EnumView]
    value_objects: list[ClassView]
    rebuild: list[str]  # value objects that refer to themselves or to later ones
    events: list[EventView]
    commands: list[CommandView]
    aggregates: list[AggregateView]
    policies: list[ReactionView]
    read_models: list[ReadModelView]
    scenarios: list[ScenarioView]
    row_scenarios: list[RowScenarioView]  # read models' scenarios (tests/test_read_models.py)
    imports: dict[str, list[str]] = field(default_factory=dict)  # module -> import blocks
    exports: list[str] = field(default_factory=list)
    # codegen/policy_views.py: read models of policies, policy scenarios, external systems
    consulted: list[str] = field(default_factory=list)  # bases.py's TYPE_CHECKING imports
    policy_scenarios: list[PolicyScenarioView] = field(default_factory=list)
    external_systems: list[ExternalSystemView] = field(default_factory=list)
    upcasters: UpcastersView = field(default_factory=UpcastersView)


def build_views(model: Model, package: str, lock: Lock | None = None) -> PackageView:
    """``lock``: the lock generate writes beside the model (its older event versions make
    the upcasters), or None for none."""
    contexts = model.contexts
    types = Types({vo.name: vo for c in contexts for vo in c.value_objects},
                  {e.name: e for c in contexts for e in c.enums})
    imports: dict[str, Imports] = {}

    imports["types"] = Imports()
    enums = [EnumView(e.name, _doc(e.description), [(constant(v), string(v)) for v in e.values])
             for c in contexts for e in c.enums]
    if enums:
        imports["types"].modules.add("enum")
    value_objects = [ClassView(vo.name, _doc(vo.description),
                               class_fields(vo.fields, types, imports["types"], None))
                     for c in contexts for vo in c.value_objects]
    if value_objects:
        imports["types"].kit = True
    rebuild = _forward_references([vo for c in contexts for vo in c.value_objects])

    imports["events"] = Imports(kit=True)  # the registry, even of no events
    imports["test_events"] = Imports(modules={"asyncio"}, kit=True)
    tests: set[str] = set()
    events = [event_view(e, types, imports["events"], imports["test_events"], tests)
              for c in contexts for e in [*(e for a in c.aggregates for e in a.events),
                                           *c.events]]
    if events:
        imports["events"].modules.add("typing")

    imports["commands"] = Imports(kit=True)  # the command registry, even of no commands
    commands = [command_view(cmd, a, types, imports["commands"])
                for c in contexts for a in c.aggregates for cmd in a.commands]
    if commands:
        imports["commands"].kit = True
        imports["commands"].modules.add("typing")

    imports["bases"] = bases = Imports()
    aggregates = [aggregate_view(a, number, types, bases) for number, a in enumerate(
        (a for c in contexts for a in c.aggregates), start=1)]
    event_fields = {e.name: e.fields for c in contexts
                    for e in [*(e for a in c.aggregates for e in a.events), *c.events]}
    commands_by_name = {cmd.name: (cmd, a) for c in contexts for a in c.aggregates
                        for cmd in a.commands}
    policies = [policy_view(p, event_fields, commands_by_name) for c in contexts
                for p in c.policies]
    read_models = [read_model_view(r, event_fields, types, bases) for c in contexts
                   for r in c.read_models]
    _bases_imports(bases, aggregates, policies, read_models)

    taken: set[str] = set()
    imports["test_scenarios"] = Imports()
    scenarios = [scenario_view(a, s, taken, types, imports["test_scenarios"])
                 for c in contexts for a in c.aggregates for s in a.scenarios]
    imports["test_read_models"] = Imports(kit=True, local={"..events": {"registry"}})
    owners = {e.name: a for c in contexts for a in c.aggregates for e in a.events}
    emitters = event_emitters(model)
    row_scenarios = [row_scenario_view(r, s, taken, event_fields, owners, emitters, types,
                                       imports["test_read_models"])
                     for c in contexts for r in c.read_models for s in r.scenarios]
    view = PackageView(
        package=package, model_name=model.name, model_version=model.version,
        doc=docstring(model.description or f"The {model.name} model.", 0),
        enums=enums, value_objects=value_objects, rebuild=rebuild, events=events,
        commands=commands, aggregates=aggregates, policies=policies,
        read_models=read_models, scenarios=scenarios, row_scenarios=row_scenarios)
    imports["init"] = _init_imports(view)
    imports["app"] = _app_imports(view)
    view.consulted, view.policy_scenarios, view.external_systems = add_policy_views(
        model, policies, types, imports)
    _test_events_imports(imports["test_events"], view)
    view.upcasters = upcaster_views(model, lock)
    if view.upcasters.steps:
        imports["events"].add_local(".upcasters", "upcast_steps")
    view.imports = {name: value.lines() for name, value in imports.items()}
    return view


def _forward_references(value_objects: list[ValueObject]) -> list[str]:
    """Value objects whose fields name themselves or one declared after them: types.py
    postpones annotations for them and rebuilds them once every class exists."""
    position = {vo.name: index for index, vo in enumerate(value_objects)}
    late = []
    for index, vo in enumerate(value_objects):
        named = {name for spec in vo.fields.values()
                 for name in named_types(parse_type(spec.type))}
        if any(position.get(name, -1) >= index for name in named):
            late.append(vo.name)
    return late


def _bases_imports(bases: Imports, aggregates: list[AggregateView],
                   policies: list[ReactionView], read_models: list[ReadModelView]) -> None:
    if aggregates or policies or read_models:
        bases.kit = True
    if any(p.methods for p in policies) or any(r.methods for r in read_models) or \
            any(a.commands or a.events for a in aggregates):
        bases.modules.add("abc")  # @abc.abstractmethod
    if policies:
        bases.modules.add("collections.abc")
    if policies or read_models or any(a.state.fields or a.commands or a.events
                                      for a in aggregates):
        bases.modules.add("typing")  # ClassVar, typing.Self of evolve(), __init_subclass__
    for aggregate in aggregates:
        for name in aggregate.command_names:
            bases.add_local(".commands", name)
        for name in aggregate.event_names:
            bases.add_local(".events", name)
    for policy in policies:
        for name in policy.issues:
            bases.add_local(".commands", name)
    for reads in [*(p.reads for p in policies), *(r.reads for r in read_models)]:
        for name in reads:
            bases.add_local(".events", name)


def _init_imports(view: PackageView) -> Imports:
    init = Imports()
    exports: list[str] = []
    for module, names in ((".types", [e.name for e in view.enums] +
                           [v.name for v in view.value_objects]),
                          (".events", [e.name for e in view.events] + ["registry"]),
                          (".commands", [c.name for c in view.commands]
                           + ["command_registry"])):
        for name in names:
            init.add_local(module, name)
            exports.append(name)
    view.exports = sorted(exports, key=export_order)
    return init


def _app_imports(view: PackageView) -> Imports:
    app = Imports(kit=True)
    routed = [agg for agg in view.aggregates if agg.command_names]  # what make_router uses
    app.add_local(".events", "registry")  # make_reaction_runner decodes with it
    app.add_local(".commands", "command_registry")  # make_host decodes commands with it
    for agg in routed:
        app.add_local(f".aggregates.{agg.module}", agg.name)
        for command in agg.command_names:
            app.add_local(".commands", command)
    for policy in view.policies:
        app.add_local(f".policies.{policy.module}", policy.name)
    for rm in view.read_models:
        app.add_local(f".read_models.{rm.module}", rm.name)
    return app


def _test_events_imports(events: Imports, view: PackageView) -> None:
    events.add_local("..events", "registry")
    for agg in view.aggregates:
        if agg.event_names:
            events.modules.add("typing")
            events.add_local(f"..aggregates.{agg.module}", agg.name)


def _doc(description: str) -> str:
    """The model's description as a docstring, or none: no filler ("X event.")."""
    return docstring(description, 4) if description else ""
