"""Commands on the wire: the command registry, send_command and the request format."""

from __future__ import annotations

import json
from typing import ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aether import (
    AetherError,
    Command,
    CommandRegistry,
    InvalidCommandError,
    UnknownCommandTypeError,
)
from aether.cluster.wire import WireError, decode_request, encode_request
from aether.event import COMMAND_ID
from aether.store import InMemoryEventStore
from aether.testing.counters import Increment, Refuse, commands, make_counter_router


class Bump(Increment):
    """A command that knows its target, as generated commands of an aggregate with an id do."""

    command_type: ClassVar[str] = "Bump"
    counter: str

    def target_actor_id(self) -> str:
        return f"counter-{self.counter}"


def test_a_registered_command_round_trips_through_json() -> None:
    encoded = json.loads(json.dumps(commands.encode(Increment(by=7))))
    assert encoded == {"command_type": "Increment", "data": {"by": 7}}
    assert commands.decode(encoded["command_type"], encoded["data"]) == Increment(by=7)


def test_unknown_and_ill_fitting_commands_are_refused_clearly() -> None:
    with pytest.raises(UnknownCommandTypeError,
                       match=r"'Nope'.*known: Increment, IncrementCounter, Refuse"):
        commands.decode("Nope", {})
    with pytest.raises(InvalidCommandError, match="Refuse command does not fit"):
        commands.decode("Refuse", {"reason": 3, "extra": 1})
    with pytest.raises(UnknownCommandTypeError):
        commands.encode(Bump(counter="x"))  # not registered: cannot be sent over the wire


def test_a_command_type_maps_to_one_class() -> None:
    registry = CommandRegistry([Increment])
    with pytest.raises(ValueError, match="already registered"):
        registry.register(type("Other", (Command,), {"command_type": "Increment",
                                                     "__annotations__": {}}))
    assert registry.command_types == ["Increment"]


async def test_send_command_routes_by_the_commands_own_target() -> None:
    store = InMemoryEventStore()
    router = make_counter_router(store)
    router.route(Bump, router.route_for(Increment).repository, router.route_for(Increment).handle)
    events = await router.send_command(Bump(counter="7", by=2))
    assert events[0].actor_id == "counter-7"
    with pytest.raises(InvalidCommandError, match="does not name its target"):
        await router.send_command(Refuse(reason="x"))


@given(payload=st.binary(max_size=300))
def test_any_bytes_decode_to_a_request_or_a_wire_error(payload: bytes) -> None:
    try:
        actor_id, shard, command_type, _, metadata, from_version = decode_request(payload)
    except WireError:
        return
    assert isinstance(actor_id, str) and isinstance(shard, int)
    assert isinstance(command_type, str) and isinstance(metadata, dict)
    assert from_version is None or (type(from_version) is int and from_version >= 1)


@given(actor_id=st.text(min_size=1, max_size=50), by=st.integers(-(2**53), 2**53))
def test_requests_round_trip(actor_id: str, by: int) -> None:
    payload = encode_request(actor_id, 3, commands.encode(Increment(by=by)), {COMMAND_ID: "c"})
    assert decode_request(payload) == (actor_id, 3, "Increment", {"by": by}, {COMMAND_ID: "c"},
                                       None)
    again = encode_request(actor_id, 3, commands.encode(Increment(by=by)), {COMMAND_ID: "c"},
                           from_version=by % 9 + 1)
    assert decode_request(again).from_version == by % 9 + 1


def test_registering_a_command_class_wrongly_is_an_aether_error() -> None:
    class Nameless(Command):
        pass

    class First(Command):
        command_type = "Same"

    class Second(Command):
        command_type = "Same"

    registry = CommandRegistry([First])
    with pytest.raises(AetherError, match="has no command_type"):
        registry.register(Nameless)
    with pytest.raises(AetherError, match="command type 'Same' is already registered to"):
        registry.register(Second)
    assert registry.command_types == ["Same"]
