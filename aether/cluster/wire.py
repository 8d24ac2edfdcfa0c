"""Commands and their results on NATS: subjects, the JSON request and reply, and the errors
a caller of the cluster router can meet.

A command for actor ``A`` goes to the subject of A's shard, ``aether.actors.<cluster
token>.<shard>``, as a NATS request; the node that owns the shard subscribes to its shards'
subjects (in one queue group, so one node answers each request). The cluster name is
encoded with ``encode_token`` (lossless, one token), so no cluster can reach another's
subjects. Request and reply are JSON objects (``FORMAT`` 1)::

    request: {"format": 1, "actor_id": str, "shard": int, "command_type": str,
              "data": {...}, "metadata": {str: str}}
    reply:   {"format": 1, "events": [Event as JSON, ...]}
          or {"format": 1, "error": {"kind": KIND, "type": str, "message": str}}

``kind`` is ``domain`` (the aggregate refused: re-raised as DomainError), ``moved`` (the
node no longer owns the shard: the caller retries), ``invalid`` (the request cannot be
executed as sent: re-raised as the InvalidCommandError or InvalidEventError a local
CommandRouter raises, with the owner's message) or ``failed`` (the node could not execute
it: RemoteCommandError; StoreUnavailableError when its store was unreachable, as locally).
A caller accepts as its result only events of the actor it sent to that carry its command
id; any other reply is RemoteCommandError ``failed``. An owner answers only reply subjects
under ``REPLY_PREFIXES``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from itertools import pairwise
from typing import Any

from pydantic import ValidationError

from aether.command import InvalidCommandError
from aether.errors import (
    AetherError,
    DomainError,
    InvalidEventError,
    StoreUnavailableError,
    TransientError,
)
from aether.event import COMMAND_ID, Event
from aether.store.naming import encode_token

FORMAT = 1
QUEUE_GROUP = "owners"
"""Every owner subscribes in this queue group: during a handover, when old and new owner
briefly both listen, a request still reaches only one of them."""

DOMAIN, MOVED, INVALID, FAILED = "domain", "moved", "invalid", "failed"

REPLY_PREFIXES = ("_INBOX.", "_R_.", "_GR_.")
"""The reply subjects an owner answers (``ActorHost(reply_prefixes=...)`` for others), so a
request cannot make it publish into the event stream or the JetStream API: where every
NATS client receives answers by default (``_INBOX.``), and the server's own rewrites of
them for a request that crossed an account's service import (``_R_.``) or a gateway
between server clusters (``_GR_.``)."""


def shard_subject(cluster: str, shard: int) -> str:
    return f"aether.actors.{encode_token(cluster)}.{shard}"


class ShardMovedError(AetherError):
    """This node does not (or no longer) own the actor's shard; the router retries."""

    def __init__(self, actor_id: str, shard: int, node_id: str) -> None:
        self.actor_id = actor_id
        self.shard = shard
        self.node_id = node_id
        super().__init__(
            f"node {node_id!r} does not serve shard {shard} (actor {actor_id[:80]!r}): the "
            f"shard moved or is moving; send through a ClusterRouter, which retries"
        )

    def __reduce__(self) -> tuple[type[ShardMovedError], tuple[str, int, str]]:
        return (type(self), (self.actor_id, self.shard, self.node_id))


class CommandTimeoutError(TransientError, TimeoutError):
    """No owner answered the command in time; it may or may not have taken effect."""

    def __init__(self, actor_id: str, shard: int, command_id: str, timeout: float,
                 reason: str) -> None:
        self.actor_id = actor_id
        self.shard = shard
        self.command_id = command_id
        self.timeout = timeout
        self.reason = reason
        super().__init__(
            f"command {command_id!r} for actor {actor_id[:80]!r} (shard {shard}) got no "
            f"answer within {timeout:g}s ({reason}); it may or may not have taken effect: "
            f"send it again with the same command id (metadata[COMMAND_ID]) to find out "
            f"safely, it never runs twice"
        )

    def __reduce__(self) -> tuple[type[CommandTimeoutError], tuple[str, int, str, float, str]]:
        return (type(self), (self.actor_id, self.shard, self.command_id, self.timeout,
                             self.reason))


class RemoteCommandError(AetherError):
    """The owning node could not execute the command (``kind`` says why)."""

    def __init__(self, kind: str, error_type: str, message: str) -> None:
        self.kind = kind
        self.error_type = error_type
        self.message = message
        super().__init__(f"the owning node answered {error_type}: {message}")

    def __reduce__(self) -> tuple[type[RemoteCommandError], tuple[str, str, str]]:
        return (type(self), (self.kind, self.error_type, self.message))


class WireError(InvalidCommandError):
    """A request or reply that is not the JSON this module describes."""


_INVALID: dict[str, type[AetherError]] = {
    "InvalidEventError": InvalidEventError, "WireError": WireError,
}
"""An ``invalid`` reply is re-raised as the class its ``type`` names when that class takes
just a message; anything else (UnknownCommandTypeError, a subclass we do not know) as
InvalidCommandError, their common base. The remote type name only selects from this table:
it never names a class to import."""


def invalid_error(error_type: str, message: str) -> AetherError:
    """The error a local CommandRouter would have raised for an ``invalid`` reply."""
    return _INVALID.get(error_type, InvalidCommandError)(message)


def encode_request(actor_id: str, shard: int, command: Mapping[str, Any],
                   metadata: Mapping[str, str]) -> bytes:
    return json.dumps({"format": FORMAT, "actor_id": actor_id, "shard": shard,
                       "command_type": command["command_type"], "data": command["data"],
                       "metadata": dict(metadata)}, separators=(",", ":")).encode()


def decode_request(payload: bytes) -> tuple[str, int, str, Any, dict[str, str]]:
    """(actor_id, shard, command_type, data, metadata), or WireError saying what is wrong."""
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
    return actor_id, shard, command_type, request.get("data"), metadata


def encode_events(events: list[Event]) -> bytes:
    return json.dumps({"format": FORMAT, "events": [e.model_dump(mode="json") for e in events]},
                      separators=(",", ":")).encode()


def encode_error(kind: str, exc: BaseException) -> bytes:
    message = str(exc)[:4000]
    return json.dumps({"format": FORMAT, "error": {
        "kind": kind, "type": type(exc).__name__, "message": message}}).encode()


def decode_reply(payload: bytes, actor_id: str, command_id: str,
                 ) -> list[Event] | RemoteCommandError:
    """The events, or the error the owner answered: a refusal (DomainError), an invalid
    request (InvalidCommandError, InvalidEventError) and the owner's store being unavailable
    (StoreUnavailableError) are raised as a local router raises them; ``moved`` and other
    ``failed`` answers are returned as RemoteCommandError.

    A reply that cannot be the answer to this command (not this JSON, events that are not
    Events, events of another actor or without this ``command_id``: a misrouted, stale or
    forged answer) is raised as RemoteCommandError ``failed``/``WireError``, never returned
    as the command's result; the command id makes resending it safe."""
    try:
        reply = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise _unreadable(f"not JSON ({type(exc).__name__})") from None
    if not isinstance(reply, dict) or reply.get("format") != FORMAT:
        raise _unreadable("not a format-1 reply object")
    error = reply.get("error")
    if error is not None:
        if not isinstance(error, dict):
            raise _unreadable("its error is not an object")
        kind, error_type = str(error.get("kind")), str(error.get("type"))
        message = str(error.get("message"))
        if kind == DOMAIN:
            raise DomainError(message)
        if kind == INVALID:
            raise invalid_error(error_type, message)
        if kind == FAILED and error_type == StoreUnavailableError.__name__:
            # The owner's store is down: an outage, as a local router reports it, so a
            # reaction runner pauses and resumes instead of counting it against the handler
            # and parking the event.
            raise StoreUnavailableError(message)
        return RemoteCommandError(kind, error_type, message)
    stored = reply.get("events")
    if not isinstance(stored, list):
        raise _unreadable("it has neither events nor an error")
    try:
        events = [Event.model_validate(e) for e in stored]
    except (AetherError, ValidationError, ValueError, TypeError) as exc:
        raise _unreadable(f"an event is not valid: {exc}") from None
    for event in events:
        if event.actor_id != actor_id or event.metadata.get(COMMAND_ID) != command_id:
            raise _unreadable(
                f"it holds an event of actor {event.actor_id[:80]!r} with command id "
                f"{str(event.metadata.get(COMMAND_ID))[:80]!r}, not the answer to command "
                f"{command_id!r} for actor {actor_id[:80]!r}")
    if any(a.version >= b.version for a, b in pairwise(events)):
        raise _unreadable("its events' versions do not ascend")
    return events


def _unreadable(why: str) -> RemoteCommandError:
    return RemoteCommandError(FAILED, "WireError",
                              f"unreadable reply from the owning node: {why}"[:2000])
