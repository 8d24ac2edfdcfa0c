"""Attacks on the feed's handling of records that are not events: headers a foreign client
chose, a poison first, runs of poison under a type filter, poison arriving while tailing."""

from __future__ import annotations

import pytest
from nats.aio.client import Client

from aether import UndecodableEventError
from aether.event import Event
from aether.store import JetStreamEventStore
from tests.reactions.poison import FOREIGN, foreign_tick
from tests.reactions.test_runner import tick


async def read_everything(store: JetStreamEventStore, limit: int,
                          event_types: list[str] | None = None,
                          ) -> tuple[list[tuple[int, Event]], list[int]]:
    after = 0
    pairs: list[tuple[int, Event]] = []
    skipped: list[int] = []
    for _ in range(10_000):
        try:
            page = await store.read_all(after, limit, event_types=event_types)
        except UndecodableEventError as poison:
            assert poison.position > after
            skipped.append(poison.position)
            after = poison.position
            continue
        if not page:
            return pairs, skipped
        assert page[0][0] > after
        pairs.extend(page)
        after = page[-1][0]
    raise AssertionError("the feed never ended")


async def publish_with(nc: Client, store: JetStreamEventStore, data: bytes,
                       headers: dict[str, str]) -> int:
    ack = await nc.jetstream().publish(f"{store.stream_name}.events.{FOREIGN}", data,
                                       headers=headers)
    return int(ack.seq)


@pytest.mark.parametrize("headers", [
    {"Nats-Sequence": "1"}, {"Nats-Sequence": "999999"}, {"Nats-Sequence": "x"},
    {"Status": "404"}, {"Status": "204", "Nats-Num-Pending": "0"},
    {"Nats-Subject": "s" * 10_000},
])
@pytest.mark.parametrize("data", [b"{not json", None])
async def test_a_foreign_records_own_headers_do_not_move_or_end_the_feed(
        nc: Client, jetstream_store: JetStreamEventStore, headers: dict[str, str],
        data: bytes | None) -> None:
    store = jetstream_store
    await tick(store, ["a"])
    first = await store.last_position()
    odd = await publish_with(nc, store, data or foreign_tick("outside", 1), headers)
    await tick(store, ["b"])
    last = await store.last_position()
    for limit in (1, 1000):
        pairs, skipped = await read_everything(store, limit)
        if data is None:  # a valid event with odd headers: returned at its own position
            assert [p for p, _ in pairs] == [first, odd, last] and skipped == []
        else:
            assert [p for p, _ in pairs] == [first, last] and skipped == [odd]
