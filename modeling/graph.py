"""The model's event flow as a networkx graph, and questions asked of it.

Nodes are ``"<kind>:<name>"`` with attributes ``kind``, ``name``, ``context`` (where
it is first declared), ``contexts`` (every context that declares it: an actor may work
in several) and ``label``; nodes and edges come in the model's order. Edges follow
EventStorming's reading order:

    actor -> command -> aggregate -> event -> policy -> command
    event -> read model;  external system -> event;  event -> external system
    read model -> policy (the policy reads it: edge attribute ``reads``)
    hot spot -> the element it is about

An aggregate -> event edge remembers which commands emit the event (``commands``),
so "what happens after command X" follows X's events only.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeAlias

import networkx as nx

from modeling.types import Model

if TYPE_CHECKING:
    FlowGraph: TypeAlias = nx.DiGraph[str]
else:  # networkx classes are not subscriptable at run time
    FlowGraph = nx.DiGraph


def node_id(kind: str, name: str) -> str:
    return f"{kind}:{name}"


def build_graph(model: Model) -> FlowGraph:
    graph: FlowGraph = nx.DiGraph(name=model.name)

    def node(kind: str, name: str, context: str, **attrs: object) -> str:
        key = node_id(kind, name)
        if key not in graph:
            graph.add_node(key, kind=kind, name=name, context=context, contexts=[context],
                           label=name, **attrs)
        elif context not in graph.nodes[key]["contexts"]:
            graph.nodes[key]["contexts"].append(context)  # an actor working in several
        return key

    for context in model.contexts:
        ctx = context.name
        for actor in context.actors:
            node("actor", actor.name, ctx)
        for aggregate in context.aggregates:
            # Commands before their aggregate, events after it, each in the model's order
            # (time order, for events): drawings keep that order from one version to the next.
            commands = [node("command", command.name, ctx) for command in aggregate.commands]
            agg = node("aggregate", aggregate.name, ctx)
            emitted_by: dict[str, list[str]] = {}
            for cmd, command in zip(commands, aggregate.commands, strict=True):
                graph.add_edge(cmd, agg)
                for event_name in command.emits:
                    emitted_by.setdefault(event_name, []).append(command.name)
            for event in aggregate.events:
                evt = node("event", event.name, ctx)
                if event.name in emitted_by:
                    graph.add_edge(agg, evt, commands=emitted_by[event.name])
        for event in context.events:
            node("event", event.name, ctx)
        for policy in context.policies:
            node("policy", policy.name, ctx)
        for read_model in context.read_models:
            node("read_model", read_model.name, ctx)
        for system in context.external_systems:
            node("external_system", system.name, ctx)
    # Second pass: references may point into contexts declared later.
    for context in model.contexts:
        for aggregate in context.aggregates:
            for command in aggregate.commands:
                if command.actor:
                    _link(graph, node_id("actor", command.actor), node_id("command", command.name))
        for policy in context.policies:
            for event_name in policy.on:
                _link(graph, node_id("event", event_name), node_id("policy", policy.name))
            for command_name in policy.issues:
                _link(graph, node_id("policy", policy.name), node_id("command", command_name))
            for read_model_name in policy.reads:
                # Consulted, not a cause: the flow questions below do not follow it.
                _link(graph, node_id("read_model", read_model_name),
                      node_id("policy", policy.name), reads=True)
        for read_model in context.read_models:
            for event_name in read_model.from_:
                _link(graph, node_id("event", event_name), node_id("read_model", read_model.name))
        for system in context.external_systems:
            for event_name in system.emits:
                _link(graph, node_id("external_system", system.name), node_id("event", event_name))
            for event_name in system.receives:
                _link(graph, node_id("event", event_name), node_id("external_system", system.name))
        for number, hot_spot in enumerate(context.hot_spots, start=1):
            spot = node_id("hot_spot", f"{context.name}#{number}")
            graph.add_node(spot, kind="hot_spot", name=spot, context=context.name,
                           contexts=[context.name], label=hot_spot.text)
            if hot_spot.about:
                # An actor may share its name with an element: the element is meant.
                named = [n for n in graph if graph.nodes[n]["name"] == hot_spot.about
                         and graph.nodes[n]["kind"] != "hot_spot"]
                target = min(named, key=lambda n: graph.nodes[n]["kind"] == "actor",
                             default=None)
                if target is not None:
                    graph.add_edge(spot, target)
    return graph


def _link(graph: FlowGraph, source: str, target: str, **attrs: object) -> None:
    if source in graph and target in graph:
        graph.add_edge(source, target, **attrs)


def happens_after(graph: FlowGraph, command: str) -> list[str]:
    """Node ids set off by ``command``, in breadth-first order: its aggregate, the events
    *it* emits (not its aggregate's other events), and everything those events set off."""
    start = node_id("command", command)
    if start not in graph:
        raise KeyError(f"no command {command!r} in the model")
    return _reach(graph, start, _next_steps)


def _reach(graph: FlowGraph, start: str,
           steps: Callable[[FlowGraph, str], list[str]]) -> list[str]:
    """Nodes reachable from ``start`` by ``steps``, breadth first, ``start`` excluded."""
    order: list[str] = []
    seen = {start}
    queue: deque[str] = deque([start])
    while queue:
        for nxt in steps(graph, queue.popleft()):
            if nxt not in seen:
                seen.add(nxt)
                order.append(nxt)
                queue.append(nxt)
    return order


def _next_steps(graph: FlowGraph, current: str) -> list[str]:
    if graph.nodes[current]["kind"] != "command":
        return [n for n in graph.successors(current) if (graph.nodes[n]["kind"] != "event"
                or graph.nodes[current]["kind"] != "aggregate")
                and not graph.edges[current, n].get("reads")]
    name = graph.nodes[current]["name"]
    steps: list[str] = []
    for aggregate in graph.successors(current):
        steps.append(aggregate)
        steps += [event for event in graph.successors(aggregate)
                  if name in graph.edges[aggregate, event].get("commands", ())]
    return steps


def leads_to(graph: FlowGraph, event: str) -> list[str]:
    """Node ids from which ``event`` can come about: the commands that emit it (and their
    aggregates), who issues those commands, and what sets those off, recursively."""
    target = node_id("event", event)
    if target not in graph:
        raise KeyError(f"no event {event!r} in the model")
    return sorted(_reach(graph, target, _previous_steps))


def _previous_steps(graph: FlowGraph, current: str) -> list[str]:
    steps: list[str] = []
    for previous in graph.predecessors(current):
        if graph.nodes[previous]["kind"] == "aggregate":
            steps.append(previous)
            steps += [node_id("command", c) for c in graph.edges[previous, current]["commands"]]
        elif graph.nodes[current]["kind"] != "aggregate" \
                and graph.nodes[previous]["kind"] != "hot_spot" \
                and not graph.edges[previous, current].get("reads"):  # notes, not causes
            steps.append(previous)
    return steps
