"""Scenarios as the catalog shows them: an aggregate's (given events, when a command, then
events or an error), a policy's (given events, when an event, then the commands it
dispatches, each with where it goes) and a read model's (given events, then its rows).

Streams and targets a scenario leaves out are shown as generated tests compute them
(modeling.identity), so the page says where each event is recorded and where each command
is sent."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import JsonValue

from codegen.catalog_site import Link, Site
from modeling.identity import command_target, event_emitters, scenario_stream
from modeling.policy_checks import (
    ACTOR_KEY,
    TARGET_KEY,
    command_owners,
    event_owners,
    split_message,
)
from modeling.policy_checks import Message as PolicyMessage
from modeling.types import (
    Model,
    Policy,
    ReadModel,
    Scenario,
)


@dataclass(frozen=True)
class Message:
    """An event, command or row in a scenario, with its payload as JSON."""

    name: str
    link: Link | None
    payload: str
    address: str = ""  # "in order-o1" (an event's stream), "to shipment-o1" (a target)


@dataclass(frozen=True)
class ScenarioView:
    name: str
    given: list[Message]
    when: Message | None  # None for a read model's scenario: its rows follow the events
    then: list[Message]
    error: str | None
    then_title: str = "Then"
    nothing: str = "no events"  # what an empty `then` means


def _json(payload: object) -> str:
    return json.dumps(payload, indent=2, ensure_ascii=False, sort_keys=False)


def aggregate_scenario(scenario: Scenario, site: Site) -> ScenarioView:
    def message(entry: dict[str, object]) -> Message:
        [(name, payload)] = list(entry.items())[:1] or [("?", {})]
        return Message(name, site.named(name), _json(payload))

    return ScenarioView(scenario.name, [message(dict(m)) for m in scenario.given],
                        message(dict(scenario.when)), [message(dict(m)) for m in scenario.then],
                        scenario.error)


class Streams:
    """Where a scenario's events are recorded and its commands sent, for one model."""

    def __init__(self, model: Model) -> None:
        self.events = event_owners(model)
        self.emitters = event_emitters(model)
        self.commands = command_owners(model)

    def stream(self, name: str, payload: Mapping[str, JsonValue], given: str | None) -> str:
        if given:
            return given
        if name not in self.events:
            return ""
        definition, owner = self.events[name]
        return scenario_stream(name, payload, definition.fields, owner, self.emitters.get(name))

    def target(self, name: str, payload: Mapping[str, JsonValue], given: str | None) -> str:
        owner = self.commands.get(name)
        if given or owner is None:
            return given or ""
        return command_target(owner, name, payload) or ""

    def message(self, raw: Mapping[str, JsonValue], extra: str, site: Site) -> Message:
        """A scenario's event (``actor:`` beside it names its stream) or command (``to:``
        its target), with the stream or target the generated tests use."""
        taken = split_message(raw, extra)
        if not isinstance(taken, PolicyMessage):  # validate refuses it; show it as written
            return Message("?", None, _json(dict(raw)))
        if extra == ACTOR_KEY:
            where = self.stream(taken.name, taken.payload, taken.address)
            address = f"in {where}" if where else ""
        else:
            where = self.target(taken.name, taken.payload, taken.address)
            address = f"to {where}" if where else ""
        return Message(taken.name, site.named(taken.name), _json(dict(taken.payload)), address)

    def policy_scenarios(self, policy: Policy, site: Site) -> list[ScenarioView]:
        return [ScenarioView(s.name, [self.message(m, ACTOR_KEY, site) for m in s.given],
                             self.message(s.when, ACTOR_KEY, site),
                             [self.message(m, TARGET_KEY, site) for m in s.then or []], None,
                             "Then it dispatches", "no commands")
                for s in policy.scenarios]

    def read_model_scenarios(self, read_model: ReadModel, site: Site) -> list[ScenarioView]:
        return [ScenarioView(s.name, [self.message(m, ACTOR_KEY, site) for m in s.given], None,
                             [Message("row", None, _json(row)) for row in s.then], None,
                             "Then its rows are", "no rows")
                for s in read_model.scenarios]

