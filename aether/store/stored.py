"""Decoding what a JetStream store wrote back into events and snapshots, for every reader
(per-actor reads, snapshots and the feed) alike."""

from __future__ import annotations

from typing import TypeVar

from nats.aio.msg import Msg
from nats.js.api import RawStreamMsg
from pydantic import ValidationError

from aether.errors import EventDecodeError, InvalidEventError
from aether.event import ActorSnapshot, Event, decode_record

Record = TypeVar("Record", Event, ActorSnapshot)


def decode_message(kind: type[Record], message: Msg | RawStreamMsg) -> Record:
    # stored: limits added after an event was written must not make history unreadable.
    try:
        return decode_record(kind, message.data or b"", stored=True)
    except (ValidationError, InvalidEventError) as exc:
        subject = (message.headers or {}).get("Nats-Subject")
        raise EventDecodeError(
            f"message on {subject!r} is not a valid {kind.__name__}: {exc}; "
            f"was it written by something other than Aether?"
        ) from exc
