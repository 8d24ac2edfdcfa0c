"""Records a foreign client writes straight into a store's events stream: the poison the
feed and the reaction runner must survive. Shared by the poison tests and their worker."""

from __future__ import annotations

import json
from typing import Any

from nats.aio.client import Client

from aether.event import encode_record
from aether.store import JetStreamEventStore
from aether.testing.counters import Ticked, registry

FOREIGN = "foreign"
"""The subject token the foreign client writes under: an actor no test's aggregate uses (an
aggregate whose subject holds such records cannot load, and its commands fail)."""


def _event_fields(counter: str, version: int) -> dict[str, Any]:
    fields: dict[str, Any] = json.loads(
        encode_record(registry.to_event(Ticked(counter=counter), FOREIGN, version)))
    return fields


def poisons() -> dict[str, bytes]:
    """Name -> bytes of records that are not events."""
    bad_version = _event_fields("x", 1) | {"version": "seven"}
    no_id = {key: value for key, value in _event_fields("x", 2).items() if key != "id"}
    return {
        "garbage": b"\xff\x00\xfe not json at all {",
        "non-object": b'[1, 2, "three"]',
        "bad field": json.dumps(bad_version).encode(),
        "missing id": json.dumps(no_id).encode(),
        "empty": b"",
    }


def foreign_tick(counter: str, version: int) -> bytes:
    """A valid Ticked event as another client would write it: JSON, no Aether headers."""
    return json.dumps(_event_fields(counter, version)).encode()


async def publish_raw(nc: Client, store: JetStreamEventStore, data: bytes) -> int:
    """Publish ``data`` into the store's events stream as a plain nats-py client would;
    returns its stream sequence (its feed position)."""
    ack = await nc.jetstream().publish(f"{store.stream_name}.events.{FOREIGN}", data)
    return int(ack.seq)
