"""The limits every backend, bus and cluster agree on, checked before anything is written.

Rule: whatever a store accepts, every store reads back exactly (same data, same types);
everything else is refused up front with an AetherError that names the limit. So each
limit below is what the strictest part on the way (the NATS protocol, JSON, a JetStream
stream name) can carry exactly, and it is the same everywhere, the in-memory store
included. The limits and their reasons (docs/runtime.md lists them for users):

- actor id: 1 to ``MAX_ACTOR_ID_BYTES`` bytes of UTF-8. Encoded into a subject token a byte
  can take three characters, and the longest request subject must stay far below the NATS
  server's 4 KiB protocol control line: past it the server closes the shared connection.
- namespace: at most ``MAX_NAMESPACE_BYTES`` bytes, so every stream, bucket and subject
  derived from it stays within JetStream's 255-character names.
- event id and event type: 1 to ``MAX_EVENT_ID_BYTES`` / ``MAX_EVENT_TYPE_BYTES`` bytes,
  printable (they travel in NATS headers, where CR/LF would forge headers and edge spaces
  are dropped).
- data, state: JSON values nested at most ``MAX_JSON_DEPTH`` levels (the data mapping is
  level 1; the JSON parser gives up at about 200 and envelopes add levels), integers within
  64 bits (``MIN_JSON_INT`` .. ``MAX_JSON_INT``, what JSON consumers such as Go's keep
  exact; larger ones read back as other numbers or not at all), finite floats only (JSON
  has no NaN or infinity: they would read back as null).
- text anywhere must have a UTF-8 form (no lone surrogates); data and state hold JSON
  values only (no tuples, no non-text keys), which aether/jsondata.py checks.
- size: an event or snapshot is stored as its JSON plus NATS headers (counted as
  ``HEADER_RESERVE`` bytes); that must fit the server's max_payload (JetStream; the
  in-memory store applies its ``max_event_bytes`` when given one). Past it nats-py raises
  its own error, and a message over the limit by its headers makes the server close the
  connection. This one limit is the server's, so it is not the same everywhere.
- timestamps: timezone-aware, with an offset in whole minutes (JSON keeps ``+HH:MM``).
- a batch (``save_events``): at most ``MAX_BATCH_EVENTS`` events, JetStream's largest
  atomic batch.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timezone

from aether.errors import InvalidEventError, StoreConfigError

MAX_ACTOR_ID_BYTES = 512
MAX_NAMESPACE_BYTES = 64
MAX_EVENT_ID_BYTES = 256
MAX_EVENT_TYPE_BYTES = 256
MAX_JSON_DEPTH = 64
DEFAULT_MAX_PAYLOAD = 1024 * 1024
"""The NATS server's default max_payload (1 MiB)."""
HEADER_RESERVE = 1024
MAX_BATCH_EVENTS = 1000
"""Bytes counted for the NATS headers of a stored event (id, version, sequence, batch)."""
MAX_JSON_INT = 2**63 - 1
MIN_JSON_INT = -(2**63)

_UNFIT_FOR_HEADER = re.compile(r"[\x00-\x1f\x7f]|^\s|\s$")


def utf8_size(text: str, what: str, error: type[Exception]) -> int:
    """Bytes of ``text`` in UTF-8; text that has no UTF-8 form (lone surrogates) is refused."""
    if text.isascii():
        return len(text)
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise error(
            f"{what} {text[:80]!r} contains a lone surrogate, which has no UTF-8 form: "
            f"pass well-formed text"
        ) from None


def _check_size(text: str, what: str, limit: int) -> None:
    if not isinstance(text, str):
        raise InvalidEventError(f"{what} must be a str, got {type(text).__name__}: pass text")
    size = utf8_size(text, what, InvalidEventError)
    if size == 0:
        raise InvalidEventError(f"{what} must not be empty: give it 1 to {limit} bytes of text")
    if size > limit:
        raise InvalidEventError(
            f"{what} of {size} bytes (UTF-8) is outside the limit of 1 to {limit} bytes: "
            f"{text[:80]!r}; use a shorter {what}"
        )


def check_actor_id(actor_id: str) -> str:
    """Refuse, with InvalidEventError, an actor id no backend can store."""
    if type(actor_id) is str and actor_id.isascii() and 0 < len(actor_id) <= MAX_ACTOR_ID_BYTES:
        return actor_id  # the common case, without _check_size's two calls
    _check_size(actor_id, "actor id", MAX_ACTOR_ID_BYTES)
    return actor_id


def from_version_error(from_version: object) -> InvalidEventError:
    """What a store's get_events raises for a ``from_version`` that is not an int."""
    return InvalidEventError(
        f"from_version must be an int (the first version to read; 0 for all), got "
        f"{type(from_version).__name__} {str(from_version)[:80]!r}"
    )


def check_event_id(event_id: str) -> str:
    """Refuse an event id that cannot travel as the Nats-Msg-Id header."""
    _check_size(event_id, "event id", MAX_EVENT_ID_BYTES)
    return check_header_value("event id", event_id)


def check_event_type(event_type: str) -> str:
    """Refuse an event type that cannot travel in a NATS header."""
    _check_size(event_type, "event type", MAX_EVENT_TYPE_BYTES)
    return check_header_value("event type", event_type)


def check_namespace(namespace: str) -> str:
    """Refuse, with StoreConfigError, a namespace no store, bus or cluster can carry."""
    size = utf8_size(namespace, "namespace", StoreConfigError)
    if size > MAX_NAMESPACE_BYTES:
        raise StoreConfigError(
            f"namespace of {size} bytes (UTF-8) is over the limit of {MAX_NAMESPACE_BYTES} "
            f"bytes: {namespace[:80]!r}; use a shorter namespace"
        )
    return namespace


def check_header_value(name: str, value: str) -> str:
    """Header values travel in the NATS protocol; CR, LF and other control characters
    would end the header early or forge new ones, so they are refused."""
    if value.isascii() and value.isprintable() and value[:1] != " " and value[-1:] != " ":
        return value  # the common case, without a regex
    if _UNFIT_FOR_HEADER.search(value) is None:
        return value
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        raise InvalidEventError(
            f"{name} {value[:80]!r} contains a control character (CR, LF, tab, ...), which "
            f"cannot travel in a NATS header: use printable text"
        )
    raise InvalidEventError(
        f"{name} {value[:80]!r} has leading or trailing spaces, which NATS headers drop: "
        f"strip it first"
    )


def check_stored_size(what: str, json_bytes: int, limit: int, whose: str) -> None:
    """Refuse a record whose stored form (JSON plus headers) is over ``limit`` bytes."""
    size = json_bytes + HEADER_RESERVE
    if size > limit:
        raise InvalidEventError(
            f"{what} takes {size:,} bytes as stored ({json_bytes:,} of JSON plus "
            f"{HEADER_RESERVE:,} for headers), over the {whose} of {limit:,} bytes: keep "
            f"large content elsewhere and store a reference to it, or raise the limit"
        )


def named_zone(zone: timezone) -> bool:
    """True for ``timezone(offset, name)``: JSON keeps only ``+HH:MM``, so the name would
    not read back (its constructor arguments are its only public trace: typeshed lacks
    them, tzname() of an unnamed offset may read the same)."""
    arguments: tuple[object, ...] = zone.__getinitargs__()  # type: ignore[attr-defined]
    return len(arguments) > 1


def check_timestamp(what: str, timestamp: datetime) -> datetime:
    if timestamp.tzinfo is UTC:
        return timestamp
    offset = timestamp.utcoffset() if timestamp.tzinfo is not None else None
    if offset is None:
        raise InvalidEventError(
            f"{what} must be timezone-aware, got naive {timestamp.isoformat()}: "
            f"use datetime.now(UTC)"
        )
    if not isinstance(timestamp.tzinfo, timezone):
        # Validation turns a zone into its fixed offset (aether.event._parse_timestamp); a
        # model_construct'ed record skipped that, and JSON keeps only the offset: a time in
        # a DST gap or fold would read back unequal.
        raise InvalidEventError(
            f"{what} is in the zone {str(timestamp.tzinfo)[:60]!r}, which JSON keeps only as "
            f"a fixed offset: build the record with its constructor (it converts the zone) "
            f"or pass timestamp.astimezone(UTC)"
        )
    if offset.seconds % 60 or offset.microseconds:
        raise InvalidEventError(
            f"{what} has the UTC offset {offset}, which is not a whole number of minutes and "
            f"does not survive JSON: convert it with .astimezone(UTC)"
        )
    return timestamp


# The constructor and the decoders (aether/records.py) ask this of every event.
def names_fit(event_id: str, event_type: str, actor_id: str) -> bool:
    """True when an event's id, type and actor id fit their limits (the checks above).
    The type and the actor id repeat from event to event (one kind of fact, one actor's
    history), so once one fits it is remembered (FIT_TYPES, FIT_ACTORS) and the next event
    costs a set lookup for it; the id is new each time: its common case, printable ASCII,
    is written out."""
    if not ((event_id.isascii() and 0 < len(event_id) <= MAX_EVENT_ID_BYTES
            and event_id.isprintable() and event_id[0] != " " and event_id[-1] != " ")
            or header_text(event_id, MAX_EVENT_ID_BYTES)):
        return False
    return ((event_type in FIT_TYPES or type_fits(event_type))
            and (actor_id in FIT_ACTORS or actor_fits(actor_id)))


# Names that fit the limits, as exact str (the callers check the type first): a name
# equal to one of these fits as well. Only fitting names are kept, so a refusal is always
# decided (and described) by the checks themselves. Bounded: emptied when full.
FIT_TYPES: set[str] = set()
FIT_ACTORS: set[str] = set()
MAX_REMEMBERED = 4096


def type_fits(event_type: str) -> bool:
    return header_text(event_type, MAX_EVENT_TYPE_BYTES) and _remember(FIT_TYPES, event_type)


def actor_fits(actor_id: str) -> bool:
    try:
        check_actor_id(actor_id)
    except InvalidEventError:
        return False
    return _remember(FIT_ACTORS, actor_id)


def _remember(fit: set[str], name: str) -> bool:
    if len(fit) >= MAX_REMEMBERED:
        fit.clear()
    fit.add(name)
    return True


def header_text(text: str, limit: int) -> bool:
    """True for printable text within ``limit`` bytes without edge spaces: what
    check_event_id accepts (its ASCII case is written out in names_fit)."""
    try:
        check_header_value("", text)
        return 0 < utf8_size(text, "", InvalidEventError) <= limit
    except InvalidEventError:
        return False
