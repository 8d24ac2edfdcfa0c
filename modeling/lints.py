"""Lints: legal models that are probably not what the modeler meant (warnings)."""

from __future__ import annotations

from collections.abc import Iterator

import networkx as nx

from modeling.context_map import CROSSING_LINT, crossing_lints
from modeling.index import ModelIndex
from modeling.names import short
from modeling.source import Path
from modeling.types import Model

Lint = tuple[Path, str, str]

LINT_CODES = ("event-not-emitted", "command-not-issued", "aggregate-without-commands",
              "policy-cycle", CROSSING_LINT)
"""Every lint; an element silences one with ``ignore: [code]`` (each lint's path is its
element's path plus one key, such as ``"name"``)."""


def lint_model(model: Model, index: ModelIndex) -> Iterator[Lint]:
    yield from _unemitted_events(model, index)
    yield from _unissued_commands(model, index)
    yield from _aggregates_without_commands(model)
    yield from _policy_cycles(model, index)
    yield from crossing_lints(model, index)


def _unemitted_events(model: Model, index: ModelIndex) -> Iterator[Lint]:
    emitted = {event for c in model.contexts for a in c.aggregates for cmd in a.commands
               for event in cmd.emits}
    emitted |= {event for c in model.contexts for s in c.external_systems for event in s.emits}
    for entry in index.entries:
        if entry.kind == "event" and entry.name not in emitted:
            yield ((*entry.path, "name"),
                   f"event {short(entry.name)} is never emitted: add it to a command's `emits` "
                   f"or an external system's `emits`", "event-not-emitted")


def _unissued_commands(model: Model, index: ModelIndex) -> Iterator[Lint]:
    issued = {command for c in model.contexts for p in c.policies for command in p.issues}
    for entry in index.entries:
        if entry.kind != "command" or entry.name in issued:
            continue
        command, _ = index.commands[entry.name]
        if command.actor is None:
            yield ((*entry.path, "name"),
                   f"command {short(entry.name)} has no actor and no policy issues it: give it an "
                   f"`actor` or let a policy `issues` it", "command-not-issued")


def _aggregates_without_commands(model: Model) -> Iterator[Lint]:
    for c, context in enumerate(model.contexts):
        for a, aggregate in enumerate(context.aggregates):
            if not aggregate.commands:
                yield (("contexts", c, "aggregates", a, "name"),
                       f"aggregate {short(aggregate.name)} has no commands, so nothing can "
                       f"change it",
                       "aggregate-without-commands")


def _policy_cycles(model: Model, index: ModelIndex) -> Iterator[Lint]:
    graph: nx.DiGraph[str] = nx.DiGraph()
    policy_paths: dict[str, Path] = {}
    for c, context in enumerate(model.contexts):
        for p, policy in enumerate(context.policies):
            policy_paths[policy.name] = ("contexts", c, "policies", p, "name")
            for event in policy.on:
                graph.add_edge(f"event:{event}", f"policy:{policy.name}")
            for command in policy.issues:
                graph.add_edge(f"policy:{policy.name}", f"command:{command}")
    for name, (definition, _) in index.commands.items():
        for event in definition.emits:
            graph.add_edge(f"command:{name}", f"event:{event}")
    for component in sorted(nx.strongly_connected_components(graph), key=sorted):
        policies = sorted(node.split(":", 1)[1] for node in component
                          if node.startswith("policy:"))
        if not policies or (len(component) == 1 and not graph.has_edge(*component, *component)):
            continue
        cycle = " -> ".join(_cycle_through(graph, f"policy:{policies[0]}"))
        yield (policy_paths[policies[0]],
               f"policies form a cycle ({cycle}); make sure it ends, e.g. by a condition in "
               f"a command handler", "policy-cycle")


def _cycle_through(graph: nx.DiGraph[str], start: str) -> list[str]:
    edges = nx.find_cycle(graph, start)
    names = [edge[0].split(":", 1)[1] for edge in edges]
    return [*names, names[0]]
