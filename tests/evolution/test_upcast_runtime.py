"""Events stored at an older schema_version are upcast on decode, from every store and reader."""

from __future__ import annotations

from datetime import date
from typing import ClassVar
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nats.aio.client import Client
from pydantic import BaseModel, JsonValue

from aether import AggregateRoot, Event, EventPayload, EventRegistry, Repository
from aether.errors import EventDecodeError
from aether.nats_eventbus import NATSEventBus
from aether.reactions import ReadModel
from aether.router import CommandRouter
from aether.runner import settle
from aether.store import InMemoryEventStore, JetStreamEventStore
from aether.upcasting import (
    SCHEMA_VERSION,
    InvalidUpcasterError,
    SchemaVersionError,
    UpcasterNotWrittenError,
    UpcastStep,
    not_written,
)


class HoldV1(EventPayload):
    """BookPlacedOnHold as version 1 wrote it."""

    event_type: ClassVar[str] = "BookPlacedOnHold"
    patron_id: str
    hold_till: date


class Hold(EventPayload):
    """BookPlacedOnHold now: hold_till renamed to till (v2), a note added (v3)."""

    event_type: ClassVar[str] = "BookPlacedOnHold"
    schema_version: ClassVar[int] = 3
    patron_id: str
    till: date
    note: str


def rename(data: dict[str, JsonValue]) -> dict[str, JsonValue]:
    data["till"] = data.pop("hold_till")
    return data


def add_note(data: dict[str, JsonValue]) -> dict[str, JsonValue]:
    data["note"] = f"held by {data['patron_id']}"
    return data


STEPS = [UpcastStep("BookPlacedOnHold", 2, 3, add_note),
         UpcastStep("BookPlacedOnHold", 1, 2, rename)]
OLD = EventRegistry([HoldV1])
NEW = EventRegistry([Hold], upcasters=STEPS)
EXPECTED = Hold(patron_id="p1", till=date(2026, 1, 31), note="held by p1")


def old_event(actor_id: str = "book-1", version: int = 1) -> Event:
    return OLD.to_event(HoldV1(patron_id="p1", hold_till=date(2026, 1, 31)), actor_id, version)


class BookState(BaseModel):
    holds: list[str] = []


class Book(AggregateRoot[BookState]):
    @classmethod
    def initial_state(cls) -> BookState:
        return BookState()

    def apply(self, event: EventPayload) -> None:
        assert isinstance(event, Hold)
        self.state = BookState(holds=[*self.state.holds, f"{event.till}/{event.note}"])


class Holds(ReadModel):
    reads: ClassVar[tuple[str, ...]] = ("BookPlacedOnHold",)

    def __init__(self) -> None:
        self.seen: list[Hold] = []

    def project(self, event: EventPayload, envelope: Event) -> None:
        assert isinstance(event, Hold)
        self.seen.append(event)


def test_an_old_event_runs_the_chain_in_version_order_then_validates() -> None:
    assert old_event().metadata[SCHEMA_VERSION] == "1"
    assert NEW.decode(old_event()) == EXPECTED
    assert [(s.from_version, s.to_version) for s in NEW.upcasters("BookPlacedOnHold")] == [
        (1, 2), (2, 3)]
    two = old_event().model_copy(update={
        "metadata": {SCHEMA_VERSION: "2"}, "data": {"patron_id": "p2", "till": "2026-02-01"}})
    assert NEW.decode(two) == Hold(patron_id="p2", till=date(2026, 2, 1), note="held by p2")


def test_an_event_without_a_recorded_version_was_written_at_version_one() -> None:
    event = old_event().model_copy(update={"metadata": {}})
    assert NEW.decode(event) == EXPECTED


def test_new_events_are_written_at_the_newest_version_whatever_the_metadata_says() -> None:
    event = NEW.to_event(EXPECTED, "book-1", 2, metadata={SCHEMA_VERSION: "1"})
    assert event.metadata[SCHEMA_VERSION] == "3"
    assert NEW.decode(event) == EXPECTED  # no step runs on a current event


def test_a_missing_step_names_the_event_type_and_the_versions() -> None:
    registry = EventRegistry([Hold], upcasters=STEPS[:1])  # only v2 -> v3
    with pytest.raises(SchemaVersionError) as caught:
        registry.decode(old_event())
    message = str(caught.value)
    assert "BookPlacedOnHold stored at schema_version '1' cannot be read as version 3" in message
    assert "no upcaster from v1" in message and "have: v2 -> v3" in message
    assert "aether-gen generate" in message
    assert (caught.value.event_type, caught.value.stored, caught.value.current) == (
        "BookPlacedOnHold", "1", 3)


def test_an_event_newer_than_the_code_is_refused_not_misread() -> None:
    future = old_event().model_copy(update={"metadata": {SCHEMA_VERSION: "4"}})
    with pytest.raises(SchemaVersionError, match="newer than the BookPlacedOnHold this code"):
        NEW.decode(future)
    with pytest.raises(SchemaVersionError, match="newer"):
        OLD.decode(NEW.to_event(EXPECTED, "book-1", 1))


@given(st.text(max_size=12))
def test_any_recorded_version_text_decodes_or_is_a_clear_error(text: str) -> None:
    event = old_event().model_copy(update={"metadata": {SCHEMA_VERSION: text}})
    try:
        assert NEW.decode(event) == EXPECTED
    except SchemaVersionError as error:
        assert "BookPlacedOnHold" in str(error)
    except EventDecodeError as error:  # e.g. "03": read as 3, so v1's data does not fit
        assert "does not match Hold" in str(error)


def test_an_unwritten_or_broken_upcaster_fails_naming_the_step() -> None:
    def todo(data: dict[str, JsonValue]) -> dict[str, JsonValue]:
        not_written("upcasters/x.py", "BookPlacedOnHold", 1, 2, ["set till (date)"])

    def broken(data: dict[str, JsonValue]) -> dict[str, JsonValue]:
        return {"till": data["nope"]}

    for step, error, text in (
            (todo, UpcasterNotWrittenError, "upcasters/x.py: the upcaster BookPlacedOnHold v1 "
                                            "-> v2 is not written yet: set till (date)"),
            (broken, EventDecodeError, "upcaster BookPlacedOnHold v1 -> v2 (event")):
        registry = EventRegistry([Hold], [UpcastStep("BookPlacedOnHold", 1, 2, step),
                                          STEPS[0]])
        with pytest.raises(error) as caught:
            registry.decode(old_event())
        assert text in str(caught.value)


def test_upcasters_that_cannot_chain_are_refused_when_registered() -> None:
    for bad, text in ((UpcastStep("BookPlacedOnHold", 2, 2, rename), "must grow"),
                      (UpcastStep("BookPlacedOnHold", 3, 4, rename), "current schema_version 3"),
                      (UpcastStep("BookPlacedOnHold", 1, 3, rename), "already starts at v1")):
        with pytest.raises(InvalidUpcasterError, match=text):
            EventRegistry([Hold], [*STEPS, bad])


async def test_old_events_in_jetstream_load_replay_and_feed_as_the_new_class(
        nc: Client) -> None:
    store = await JetStreamEventStore.create_with_namespace(nc, "events", uuid4().hex[:12])
    await store.save_events([old_event("book-1", 1), old_event("book-1", 2)])
    repository = Repository(store, Book, NEW)
    book = await repository.load("book-1")
    assert book.state.holds == ["2026-01-31/held by p1"] * 2 and book.version == 2
    book.record(EXPECTED)
    (written,) = await repository.save(book)
    assert written.metadata[SCHEMA_VERSION] == "3"
    assert [e.metadata[SCHEMA_VERSION] for e in await store.get_events("book-1")] == [
        "1", "1", "3"]

    view = Holds()
    await settle(store, NEW, CommandRouter(), read_models=[view])
    assert view.seen == [EXPECTED] * 3


async def test_old_events_from_the_bus_and_the_memory_store_decode_as_the_new_class(
        nc: Client) -> None:
    store = InMemoryEventStore()
    await store.save_events([old_event()])
    assert [NEW.decode(e) for _, e in await store.read_all()] == [EXPECTED]
    bus = NATSEventBus(nc, subject_prefix=f"u{uuid4().hex[:8]}.bus")
    subscription = await bus.subscribe("library")
    await bus.publish("library", old_event())
    assert NEW.decode(await subscription.get(timeout=5)) == EXPECTED
    await bus.close()
