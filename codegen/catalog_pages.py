"""What each catalog page says: one view per element, built once from the model.

Data flows one way, model -> these views -> templates: a view holds plain text and
`Link`s, and the templates (autoescaped) decide nothing but layout. Relations are
computed here in both directions, so a page that links to another is always linked back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from codegen.catalog_scenarios import ScenarioView, Streams, aggregate_scenario
from codegen.catalog_site import Link, Site
from codegen.typemap import zero_data
from modeling.context_map import relationships
from modeling.graph import build_graph, node_id
from modeling.read_models import row_shape
from modeling.typeexpr import parse_type
from modeling.types import Aggregate, BoundedContext, FieldSpec, Model, ReadModel


@dataclass(frozen=True)
class Relation:
    """A titled list of links, e.g. "Emitted by" on an event's page."""

    key: str
    title: str
    links: list[Link]


@dataclass(frozen=True)
class FieldRow:
    name: str
    type_parts: list[tuple[str, Link | None]]  # the type text, its declared types linked
    default: str | None  # JSON, or None when the field has no default
    description: str


@dataclass(frozen=True)
class HotSpotView:
    anchor: str  # id on its context's page
    text: str
    about: Link | None
    context: Link | None


@dataclass
class Page:
    link: Link
    context: Link | None = None  # the bounded context an element belongs to
    description: str = ""
    facts: list[tuple[str, str]] = field(default_factory=list)
    fields_title: str = "Fields"
    fields: list[FieldRow] = field(default_factory=list)
    values: list[str] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    scenarios: list[ScenarioView] = field(default_factory=list)
    hot_spots: list[HotSpotView] = field(default_factory=list)
    search_text: list[str] = field(default_factory=list)  # field names etc. for search

    def related(self, key: str) -> list[Link]:
        return next((r.links for r in self.relations if r.key == key), [])

    def relate(self, key: str, title: str, links: Iterable[Link | None]) -> None:
        """Add links under ``title`` (merged into an existing relation of the same key)."""
        found = [link for link in links if link is not None]
        relation = next((r for r in self.relations if r.key == key), None)
        if relation is None:
            if found:
                self.relations.append(Relation(key, title, list(dict.fromkeys(found))))
            return
        relation.links.extend(link for link in dict.fromkeys(found) if link not in relation.links)


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def build_pages(model: Model, site: Site) -> list[Page]:
    """One page per element in `site`, in a stable order (by path)."""
    return _Builder(model, site).build()


class _Builder:
    def __init__(self, model: Model, site: Site) -> None:
        self.model = model
        self.site = site
        self.pages: dict[tuple[str, str], Page] = {}
        self.streams = Streams(model)

    def page(self, kind: str, name: str) -> Page:
        key = (kind, name)
        if key not in self.pages:
            self.pages[key] = Page(self.site.links[key])
        return self.pages[key]

    def links(self, kind: str, names: Iterable[str]) -> list[Link | None]:
        return [self.site.link(kind, name) for name in names]

    def back(self, kind: str, name: str, key: str, title: str, link: Link) -> None:
        """Add ``link`` to the ``key`` relation of the page of (kind, name), if it has one."""
        if self.site.link(kind, name) is not None:
            self.page(kind, name).relate(key, title, [link])

    def build(self) -> list[Page]:
        hot_spots = _hot_spots(self.model, self.site)
        for context in self.model.contexts:
            self.context(context, hot_spots)
        self.type_usage()
        for spot in hot_spots:
            if spot.about is not None and (spot.about.kind, spot.about.name) in self.pages:
                self.pages[(spot.about.kind, spot.about.name)].hot_spots.append(spot)
        for (kind, _), view in self.pages.items():
            if kind != "context":
                view.context = self.site.link("context", view.link.context)
        return sorted(self.pages.values(), key=lambda p: p.link.href)

    def context(self, context: BoundedContext, hot_spots: list[HotSpotView]) -> None:
        site, page = self.site, self.page
        view = page("context", context.name)
        view.description = context.description
        members: list[tuple[str, str, list[str]]] = [
            ("aggregate", "Aggregates", [a.name for a in context.aggregates]),
            ("command", "Commands", [c.name for a in context.aggregates for c in a.commands]),
            ("event", "Events", [e.name for a in context.aggregates for e in a.events]
             + [e.name for e in context.events]),
            ("policy", "Policies", [p.name for p in context.policies]),
            ("read_model", "Read models", [r.name for r in context.read_models]),
            ("external_system", "External systems", [s.name for s in context.external_systems]),
            ("actor", "Actors", [a.name for a in context.actors]),
            ("value_object", "Value objects", [v.name for v in context.value_objects]),
            ("enum", "Enums", [e.name for e in context.enums]),
        ]
        for kind, title, names in members:
            view.relate(f"has-{kind}", title, self.links(kind, names))
        view.hot_spots = [spot for spot in hot_spots if spot.context == view.link]
        for actor in context.actors:
            actor_page = page("actor", actor.name)
            actor_page.description = actor_page.description or actor.description
        for vo in context.value_objects:
            vo_page = page("value_object", vo.name)
            vo_page.description = vo.description
            vo_page.fields = _rows(vo.fields, site)
        for enum in context.enums:
            enum_page = page("enum", enum.name)
            enum_page.description = enum.description
            enum_page.values = list(enum.values)
        for aggregate in context.aggregates:
            self.aggregate(aggregate)
        for event in context.events:
            self.event(event.name, event.description, event.fields, event.schema_version)
        for policy in context.policies:
            policy_page = page("policy", policy.name)
            policy_page.description = policy.description
            policy_page.relate("reacts-to", "Reacts to", self.links("event", policy.on))
            policy_page.relate("issues", "Issues", self.links("command", policy.issues))
            for name in policy.on:
                self.back("event", name, "reacted-to-by", "Reacted to by", policy_page.link)
            for name in policy.issues:
                self.back("command", name, "issued-by", "Issued by", policy_page.link)
            policy_page.relate("consults", "Reads", self.links("read_model", policy.reads))
            for name in policy.reads:
                self.back("read_model", name, "consulted-by", "Read by policies",
                          policy_page.link)
            policy_page.scenarios = self.streams.policy_scenarios(policy, site)
        for read_model in context.read_models:
            rm_page = page("read_model", read_model.name)
            rm_page.description = read_model.description
            rm_page.fields = _row_rows(read_model, self.model, site)
            rm_page.facts.append(("Rows", "one" if read_model.single else
                                  f"one per {read_model.key or 'actor id'}"))
            rm_page.relate("reads", "Reads", self.links("event", read_model.from_))
            for name in read_model.from_:
                self.back("event", name, "read-by", "Read by", rm_page.link)
            rm_page.scenarios = self.streams.read_model_scenarios(read_model, site)
        for system in context.external_systems:
            sys_page = page("external_system", system.name)
            sys_page.description = system.description
            sys_page.relate("emits", "Emits", self.links("event", system.emits))
            sys_page.relate("receives", "Receives", self.links("event", system.receives))
            for name in system.emits:
                self.back("event", name, "emitted-by", "Emitted by", sys_page.link)
            for name in system.receives:
                self.back("event", name, "received-by", "Received by", sys_page.link)

    def event(self, name: str, description: str, fields: dict[str, FieldSpec],
              schema_version: int) -> Page:
        view = self.page("event", name)
        view.description = description
        view.fields = _rows(fields, self.site)
        view.facts.append(("Schema version", str(schema_version)))
        return view

    def aggregate(self, aggregate: Aggregate) -> None:
        site = self.site
        view = self.page("aggregate", aggregate.name)
        view.description = aggregate.description
        view.fields_title = "State"
        view.fields = _start_rows(aggregate.state, site)
        view.relate("handles", "Handles", self.links("command",
                                                     [c.name for c in aggregate.commands]))
        view.relate("emits", "Emits", self.links("event", [e.name for e in aggregate.events]))
        view.scenarios = [aggregate_scenario(s, site) for s in aggregate.scenarios]
        for event in aggregate.events:
            event_page = self.event(event.name, event.description, event.fields,
                                    event.schema_version)
            emitters = [c.name for c in aggregate.commands if event.name in c.emits]
            event_page.relate("emitted-by", "Emitted by",
                              [view.link, *self.links("command", emitters)])
            event_page.scenarios = [s for s in view.scenarios
                                    if any(m.name == event.name for m in [*s.given, *s.then])]
        for command in aggregate.commands:
            command_page = self.page("command", command.name)
            command_page.description = command.description
            command_page.fields = _rows(command.fields, site)
            command_page.relate("handled-by", "Handled by", [view.link])
            command_page.relate("emits", "Emits", self.links("event", command.emits))
            if command.actor:
                command_page.relate("issued-by", "Issued by", self.links("actor",
                                                                         [command.actor]))
                self.back("actor", command.actor, "issues", "Issues", command_page.link)
            command_page.scenarios = [s for s in view.scenarios
                                      if s.when is not None and s.when.name == command.name]

    def type_usage(self) -> None:
        """Value objects and enums link to every element whose fields use them, and back."""
        for view in sorted(self.pages.values(), key=lambda p: p.link.href):
            used = {link for row in view.fields for _, link in row.type_parts if link}
            for link in sorted(used, key=lambda link: link.href):
                self.back(link.kind, link.name, "used-by", "Used by", view.link)
            view.search_text.extend(row.name for row in view.fields)
            view.search_text.extend(view.values)


def _row_rows(read_model: ReadModel, model: Model, site: Site) -> list[FieldRow]:
    """A read model's row: its key first (said so, and always given), then its fields."""
    events = {e.name: e.fields for c in model.contexts
              for e in [*(e for a in c.aggregates for e in a.events), *c.events]}
    shape = row_shape(read_model, events)
    rows = _start_rows(shape.fields, site)
    if shape.key is None:
        return rows
    key, kind = shape.key
    return [*_rows({key: FieldSpec(type=kind, description=f"the key: one row per {key}")},
                   site), *rows]


def _rows(fields: dict[str, FieldSpec], site: Site) -> list[FieldRow]:
    return [FieldRow(name, _type_parts(spec.type, site),
                     _json(spec.default) if spec.has_default else None, spec.description)
            for name, spec in fields.items()]


def _start_rows(fields: dict[str, FieldSpec], site: Site) -> list[FieldRow]:
    """Fields of a state or a read-model row, which start empty: each with the value the
    generated class starts it at (typemap.zero_data), as the generated code has it."""
    rows = []
    for name, spec in fields.items():
        type_text, start = spec.type, (spec.default,) if spec.has_default else zero_data(
            parse_type(spec.type))
        if start is None:  # no natural zero (a datetime, an enum...): absent until set
            type_text, start = f"{type_text} | None", (None,)
        rows.append(FieldRow(name, _type_parts(type_text, site), _json(start[0]),
                             spec.description))
    return rows


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def _type_parts(text: str, site: Site) -> list[tuple[str, Link | None]]:
    """``list[OrderLine] | None`` -> text pieces, with declared types linked."""
    parts: list[tuple[str, Link | None]] = []
    position = 0
    for match in _IDENTIFIER.finditer(text):
        if match.start() > position:
            parts.append((text[position:match.start()], None))
        name = match.group()
        parts.append((name, site.link("value_object", name) or site.link("enum", name)))
        position = match.end()
    if position < len(text):
        parts.append((text[position:], None))
    return parts


def _hot_spots(model: Model, site: Site) -> list[HotSpotView]:
    """Each hot spot is about the element the flow diagram draws its edge to (an element,
    not an actor of the same name); one about a context or a type, which the diagram does
    not draw, is about the element of that name."""
    graph = build_graph(model)
    spots: list[HotSpotView] = []
    for context in model.contexts:
        for number, spot in enumerate(context.hot_spots, start=1):
            drawn = [graph.nodes[n] for n in
                     graph.successors(node_id("hot_spot", f"{context.name}#{number}"))]
            about = (site.link(drawn[0]["kind"], drawn[0]["name"]) if drawn
                     else site.named(spot.about) if spot.about else None)
            spots.append(HotSpotView(f"hot-spot-{number}", spot.text, about,
                                     site.link("context", context.name)))
    return spots


@dataclass(frozen=True)
class Connection:
    """Context ``source`` sets off something in context ``target`` through these steps."""

    source: Link
    target: Link
    via: list[tuple[Link, Link]]


def connections(model: Model, site: Site) -> list[Connection]:
    """How the bounded contexts connect: every flow edge that crosses from one to another
    (an event a policy in another context reacts to, a read model fed from elsewhere...)."""
    graph = build_graph(model)
    found: dict[tuple[str, str], list[tuple[Link, Link]]] = {}
    for source, target in graph.edges:
        a, b = graph.nodes[source], graph.nodes[target]
        if "hot_spot" in (a["kind"], b["kind"]) or a["context"] == b["context"]:
            continue
        start, end = site.link(a["kind"], a["name"]), site.link(b["kind"], b["name"])
        if start is not None and end is not None:
            found.setdefault((a["context"], b["context"]), []).append((start, end))
    result: list[Connection] = []
    for (source_name, target_name), via in found.items():
        source_page = site.link("context", source_name)
        target_page = site.link("context", target_name)
        if source_page is not None and target_page is not None:
            result.append(Connection(source_page, target_page, via))
    return result


@dataclass(frozen=True)
class RelationshipView:
    """One relationship of the context map: ``upstream`` is the first of a symmetric pair."""

    upstream: Link
    downstream: Link
    kind: str  # "customer/supplier", "shared kernel"...
    upstream_marks: str  # Context Mapper's marks: "U,S,PL", "SK"
    downstream_marks: str
    symmetric: bool
    roles: str  # "upstream: published language; downstream: anticorruption layer"
    description: str


def context_map(model: Model, site: Site) -> list[RelationshipView]:
    """The relationships the model's context map declares, in the model's order."""
    views: list[RelationshipView] = []
    for link in relationships(model):
        first, second = site.link("context", link.first), site.link("context", link.second)
        if first is None or second is None:
            continue
        roles = "; ".join(f"{side}: {', '.join(r.replace('_', ' ') for r in names)}"
                          for side, names in (("upstream", link.upstream_roles),
                                              ("downstream", link.downstream_roles)) if names)
        views.append(RelationshipView(
            first, second, link.words, link.marks("upstream"), link.marks("downstream"),
            link.symmetric, roles, model.context_map[link.number - 1].description))
    return views
