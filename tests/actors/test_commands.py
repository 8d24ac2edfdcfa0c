"""Commands on the wire: the command registry, send_command and the request format."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import ClassVar
from uuid import uuid4

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
from aether.command import CommandIdReusedError, MisaddressedCommandError
from aether.event import COMMAND_ID, COMMAND_TYPE, Event
from aether.store import InMemoryEventStore
from aether.testing.counters import (
    Increment,
    IncrementCounter,
    Refuse,
    commands,
    make_counter_router,
)


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


async def test_a_command_sent_to_another_actor_than_its_target_is_refused() -> None:
    """A command that names its target (generated commands of an aggregate with an id) sent
    to another actor id: its events went into that actor's history, another aggregate's
    perhaps, whose every later command then failed on an event it cannot apply (a trial's
    UnlockBike sent to a wallet). Nothing is stored; send_command and the right id work."""
    store = InMemoryEventStore()
    router = make_counter_router(store)
    for wrong in ("counter-b", "wallet-a", "counter-a "):
        with pytest.raises(MisaddressedCommandError,
                           match=rf"IncrementCounter is for actor 'counter-a', not {wrong!r}"):
            await router.send(wrong, IncrementCounter(counter="a"))
        assert await store.get_events(wrong) == []
    assert await store.get_events("counter-a") == []
    assert [e.actor_id for e in await router.send("counter-a", IncrementCounter(counter="a"))
            ] == ["counter-a"]
    assert [e.actor_id for e in await router.send_command(IncrementCounter(counter="a"))
            ] == ["counter-a"]
    # A command that names no target goes wherever it is sent, as before.
    assert [e.actor_id for e in await router.send("any-1", Increment())] == ["any-1"]


_metadata = st.one_of(
    st.dictionaries(st.one_of(st.just(COMMAND_ID), st.text(max_size=5), st.integers(),
                              st.none()),
                    st.one_of(st.text(max_size=5), st.integers(), st.none(), st.lists(
                        st.text(max_size=2), max_size=2), st.sampled_from(["", "a\nb"])),
                    min_size=1, max_size=3),
    st.lists(st.text(max_size=3), max_size=3), st.text(max_size=5), st.integers())


@given(metadata=_metadata)
async def test_metadata_that_is_not_text_to_text_is_an_invalid_command(metadata: object
                                                                       ) -> None:
    """Metadata is stored on the events: a mapping of text to text. Anything else (an int
    command id, a list) raised a raw TypeError or ValueError from inside the router."""
    store = InMemoryEventStore()
    router = make_counter_router(store)
    fits = isinstance(metadata, dict) and all(
        isinstance(key, str) and isinstance(value, str) for key, value in metadata.items())
    try:
        await router.send("counter-m", Increment(), metadata)  # type: ignore[arg-type]
    except InvalidCommandError as error:
        assert not fits or "command id" in str(error), error  # text, but no command id
        assert await store.get_events("counter-m") == []
    else:
        assert fits


async def test_a_command_id_sent_again_with_a_command_of_another_type_is_refused() -> None:
    """A command id names one command: sent again with a command of another type it was
    answered with the first one's events, and the second never ran (a trial's ReturnBike
    'succeeded' with BikeUnlocked). Its events record the command's type now."""
    store = InMemoryEventStore()
    router = make_counter_router(store)
    first = await router.send("counter-q", Increment(by=2), {COMMAND_ID: "same"})
    assert (first[0].metadata[COMMAND_ID], first[0].metadata[COMMAND_TYPE]) == ("same",
                                                                    "Increment")
    with pytest.raises(CommandIdReusedError,
                       match="command id 'same' was used for a Increment on actor 'counter-q'; "
                             "this IncrementCounter needs a command id of its own"):
        await router.send("counter-q", IncrementCounter(counter="q"), {COMMAND_ID: "same"})
    assert await router.send("counter-q", Increment(by=2), {COMMAND_ID: "same"}) == first
    assert len(await store.get_events("counter-q")) == 1
    # Events stored before the type was recorded are taken as the same command.
    await store.save_event(Event(id=str(uuid4()), event_type="Incremented",
                                 actor_id="counter-old", version=1, data={"by": 1},
                                 timestamp=datetime.now(UTC), metadata={COMMAND_ID: "old"}))
    answer = await router.send("counter-old", IncrementCounter(counter="old"),
                               {COMMAND_ID: "old"})
    assert [e.version for e in answer] == [1]
