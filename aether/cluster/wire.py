"""Commands and their results on NATS: subjects, the JSON request and reply, and the errors
a caller of the cluster router can meet.

A command for actor ``A`` goes to the subject of A's shard, ``aether.actors.<cluster
token>.<shard>``, as a NATS request; the node that owns the shard subscribes to its shards'
subjects (plain subscriptions: while a shard changes hands, or an old owner frozen with its
subscriptions still on the server, every listener gets the request; the caller takes the
first answer, and asks again when it is ``moved``, from a node that does not serve the
shard). The cluster name is
encoded with ``encode_token`` (lossless, one token), so no cluster can reach another's
subjects. Request and reply are JSON objects (``FORMAT`` 1)::

    request: {"format": 1, "actor_id": str, "shard": int, "command_type": str,
              "data": {...}, "metadata": {str: str}}   (+ "from_version": int, below)
    reply:   {"format": 1, "events": [Event as JSON, ...]}   (+ "more": true, below)
          or {"format": 1, "error": {"kind": KIND, "type": str, "message": str}}

          (+ "fields": {...} for errors that carry more than a message)

Text is UTF-8 (not JSON's escapes), so a message is about as large as what the store keeps.
A request must fit the server's ``max_payload``: the router refuses a larger command before
sending it. A reply carries as many of the command's events as fit; when some are left it
says ``"more": true``, and the caller asks again with the same request plus
``"from_version"`` (the version after the last event it got). A request with
``from_version`` never executes anything: the owner answers with the events the command id
already produced from that version on, or an error when it no longer remembers them.

``kind`` is ``domain`` (the aggregate refused: DomainError), ``moved`` (the node no longer
owns the shard: the caller retries), ``invalid`` (the request cannot be executed as sent)
or ``failed`` (the node could not execute it). The caller raises the error a local
CommandRouter would have raised, rebuilt from checked fields (VersionConflictError with
its versions, StoreUnavailableError, ...: the table in wire_errors.py); errors with no
local counterpart arrive as RemoteCommandError. A caller accepts as its result only events
of the actor it sent to that carry its command id; any other reply is RemoteCommandError
``failed``. An owner answers only reply subjects under ``REPLY_PREFIXES``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from itertools import pairwise
from typing import Any, NamedTuple

from pydantic import ValidationError

from aether.cluster.wire_errors import (
    DOMAIN,
    FAILED,
    FORMAT,
    INVALID,
    MOVED,
    CommandTimeoutError,
    RemoteCommandError,
    ShardMovedError,
    WireError,
    decode_error,
    encode_error,
    kind_of,
    unreadable,
    utf8_json,
)
from aether.errors import AetherError
from aether.event import COMMAND_ID, Event, encode_record
from aether.store.naming import encode_token

__all__ = [
    "DOMAIN", "FAILED", "FORMAT", "FROM_VERSION_RESERVE", "INVALID", "MOVED",
    "REPLY_PREFIXES",
    "Answer", "CommandTimeoutError", "RemoteCommandError", "ReplyTooLargeError", "Request",
    "ShardMovedError", "WireError",
    "decode_reply", "decode_request", "encode_error", "encode_events", "encode_request",
    "error_reply", "kind_of", "shard_subject",
]

REPLY_PREFIXES = ("_INBOX.", "_R_.", "_GR_.")
"""The reply subjects an owner answers (``ActorHost(reply_prefixes=...)`` for others), so a
request cannot make it publish into the event stream or the JetStream API: where every
NATS client receives answers by default (``_INBOX.``), and the server's own rewrites of
them for a request that crossed an account's service import (``_R_.``) or a gateway
between server clusters (``_GR_.``)."""


def shard_subject(cluster: str, shard: int) -> str:
    return f"aether.actors.{encode_token(cluster)}.{shard}"


class ReplyTooLargeError(AetherError):
    """One of a command's events is larger than any reply can carry (an event store with
    no size limit, or one above the server's max_payload, accepted it)."""


class Request(NamedTuple):
    actor_id: str
    shard: int
    command_type: str
    data: Any
    metadata: dict[str, str]
    from_version: int | None = None
    """Set on a request for the rest of a reply: never execute, answer from this version."""


class Answer(NamedTuple):
    events: list[Event]
    more: bool = False
    """True when the owner had more events of the command than one reply could carry."""


FROM_VERSION_RESERVE = len(b',"from_version":') + len(str(2**63 - 1))
"""Bytes a request grows by when it asks for the rest of a result (any version)."""


def encode_request(actor_id: str, shard: int, command: Mapping[str, Any],
                   metadata: Mapping[str, str], from_version: int | None = None) -> bytes:
    request = {"format": FORMAT, "actor_id": actor_id, "shard": shard,
               "command_type": command["command_type"], "data": command["data"],
               "metadata": dict(metadata)}
    if from_version is not None:
        request["from_version"] = from_version
    return utf8_json(request)


def decode_request(payload: bytes) -> Request:
    """The request, or WireError saying what is wrong."""
    try:
        request = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise WireError("the request is not JSON: send commands through a ClusterRouter") from None
    except RecursionError:  # json's C decoder recurses per nesting level
        raise WireError("the request is nested too deeply to decode: send commands through "
                        "a ClusterRouter") from None
    if not isinstance(request, dict) or request.get("format") != FORMAT:
        raise WireError(f"the request is not a format-{FORMAT} command object")
    actor_id, shard = request.get("actor_id"), request.get("shard")
    command_type, metadata = request.get("command_type"), request.get("metadata", {})
    if not isinstance(actor_id, str) or not actor_id:
        raise WireError("the request has no actor_id string")
    if not isinstance(shard, int) or isinstance(shard, bool):
        raise WireError("the request has no integer shard")
    if not isinstance(command_type, str):
        raise WireError("the request has no command_type string")
    if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise WireError("the request's metadata must map strings to strings")
    from_version = request.get("from_version")
    if from_version is not None and (
            not isinstance(from_version, int) or isinstance(from_version, bool)
            or from_version < 1):
        raise WireError("the request's from_version must be a positive integer")
    return Request(actor_id, shard, command_type, request.get("data"), metadata, from_version)


_EVENTS_HEAD = b'{"format":%d,"events":[' % FORMAT
_MORE_TAIL = b'],"more":true}'
_END = b"]}"


def encode_events(events: list[Event], max_payload: int) -> bytes:
    """The reply carrying ``events``, or as many of them as fit in ``max_payload`` bytes
    (then marked ``"more": true``); ReplyTooLargeError when not even the first one fits."""
    size = len(_EVENTS_HEAD)
    parts: list[bytes] = []
    last = len(events) - 1
    for index, event in enumerate(events):
        encoded = encode_record(event)
        # Room for this event, its comma, and the ending: "]}" after the last event, the
        # longer "more" ending after any other (the reply may have to stop there).
        size += len(encoded) + (1 if parts else 0)
        if size + (len(_END) if index == last else len(_MORE_TAIL)) > max_payload:
            break
        parts.append(encoded)
    if events and not parts:
        first = events[0]
        raise ReplyTooLargeError(
            f"event version {first.version} of actor {first.actor_id[:80]!r} is "
            f"{len(encode_record(first))} bytes as JSON, more than a reply can carry (the "
            f"server's max_payload is {max_payload}): the command ran and its events are "
            f"stored; read them from the store, or raise max_payload")
    tail = _MORE_TAIL if len(parts) < len(events) else _END
    return _EVENTS_HEAD + b",".join(parts) + tail


def error_reply(exc: AetherError, max_payload: int | None = None) -> bytes:
    """The reply to a command that failed with ``exc`` (wire_errors.py), cut to fit
    ``max_payload`` when given."""
    return encode_error(kind_of(exc), exc, max_payload=max_payload)


def decode_reply(payload: bytes, actor_id: str, command_id: str, from_version: int = 1,
                 ) -> Answer | RemoteCommandError:
    """The events, or the error the owner answered: every error wire_errors.py rebuilds
    (DomainError, InvalidCommandError, VersionConflictError, StoreUnavailableError, ...)
    is raised as a local router raises it; ``moved`` and errors with no local counterpart
    are returned as RemoteCommandError (the router retries the first, raises the rest).

    A reply that cannot be the answer to this command (not this JSON, events that are not
    Events, events of another actor or without this ``command_id``: a misrouted, stale or
    forged answer) is raised as RemoteCommandError ``failed``/``WireError``, never returned
    as the command's result; the command id makes resending it safe."""
    try:
        reply = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise unreadable(f"not JSON ({type(exc).__name__})") from None
    if not isinstance(reply, dict) or reply.get("format") != FORMAT:
        raise unreadable("not a format-1 reply object")
    if "error" in reply:
        error = decode_error(reply["error"], actor_id)
        if isinstance(error, RemoteCommandError):
            return error
        raise error
    stored = reply.get("events")
    if not isinstance(stored, list):
        raise unreadable("it has neither events nor an error")
    try:
        events = [Event.model_validate(e) for e in stored]
    except (AetherError, ValidationError, ValueError, TypeError) as exc:
        raise unreadable(f"an event is not valid: {exc}") from None
    for event in events:
        if event.actor_id != actor_id or event.metadata.get(COMMAND_ID) != command_id:
            raise unreadable(
                f"it holds an event of actor {event.actor_id[:80]!r} with command id "
                f"{str(event.metadata.get(COMMAND_ID))[:80]!r}, not the answer to command "
                f"{command_id!r} for actor {actor_id[:80]!r}")
    if any(a.version >= b.version for a, b in pairwise(events)):
        raise unreadable("its events' versions do not ascend")
    if events and events[0].version < from_version:
        raise unreadable(f"it starts at version {events[0].version}, before the version "
                         f"{from_version} asked for")
    more = reply.get("more", False)
    if more is not False and (more is not True or not events):
        raise unreadable("its 'more' is not true after at least one event, nor false")
    return Answer(events, more)
