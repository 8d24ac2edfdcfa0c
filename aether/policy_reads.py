"""Policies that read read models: handing them their instances, and their scenarios.

A policy that declares ``reads`` gets read model instances in its constructor. Given the
same instances the ``ReactionRunner`` keeps up to date (generated ``make_reaction_runner``
does this), a policy reacting to the event at feed position P sees every read model it
reads updated with the events up to and including P: the runner hands each event to its
read models before its policies. Read models are in-process views, so this holds within
one runner; a policy never sees a later event's effect.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from aether.command import Command, Dispatch
from aether.errors import AetherError
from aether.event import Event
from aether.reactions import Policy, ReadModel
from aether.registry import EventPayload, EventRegistry

ReadModelT = TypeVar("ReadModelT", bound=ReadModel)


class MissingReadModelError(AetherError, LookupError):
    """A policy reads a read model that is not among the instances it was given."""


def read_model_of(read_models: Sequence[ReadModel], kind: type[ReadModelT]) -> ReadModelT:
    """The one instance of ``kind`` in ``read_models``."""
    found = [rm for rm in read_models if isinstance(rm, kind)]
    if len(found) != 1:
        given = ", ".join(type(rm).__name__ for rm in read_models) or "none"
        raise MissingReadModelError(
            f"a policy reads {kind.__name__}, and {len(found)} instances of it were given "
            f"(given: {given}); pass exactly one, the instance the reaction runner keeps up "
            f"to date: the list make_read_models() returned, also given to the runner")
    return found[0]


def run_policy_scenario(
    policy: Policy,
    registry: EventRegistry,
    when: tuple[str, EventPayload],
    *,
    given: Sequence[tuple[str, EventPayload]] = (),
    read_models: Sequence[ReadModel] = (),
) -> list[Dispatch[Command]]:
    """What ``policy`` dispatches for the event ``when`` (actor id, payload) after the
    ``given`` events were fed to ``read_models``, the way a ReactionRunner does it: each
    event is stored form (encoded and decoded through ``registry``), read models see
    every event, ``when`` included, before the policy reacts."""
    versions: dict[str, int] = {}

    def envelope(actor_id: str, payload: EventPayload) -> Event:
        versions[actor_id] = versions.get(actor_id, 0) + 1
        return registry.to_event(payload, actor_id, versions[actor_id])

    for actor_id, payload in given:
        event = envelope(actor_id, payload)
        for read_model in read_models:
            read_model.handle(event, registry)
    event = envelope(*when)
    for read_model in read_models:
        read_model.handle(event, registry)
    if event.event_type not in policy.reacts_to:
        raise AetherError(f"{policy.name} does not react to {event.event_type}; a scenario's "
                          f"`when` is one of {', '.join(policy.reacts_to)}")
    return list(policy.react(registry.decode(event), event))
