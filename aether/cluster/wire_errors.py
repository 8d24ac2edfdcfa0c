"""Errors on the actor wire: what an owner answers when a command fails, and the exception
its caller raises for that answer: the same type a local CommandRouter raises, with the
same fields, wherever it can be rebuilt safely.

An error reply is ``{"kind": KIND, "type": str, "message": str, "fields": {...}}``
(``fields`` optional, for the types below that carry more than a message). ``kind`` says
what the caller does: ``domain`` (a refusal: DomainError), ``invalid`` (the request cannot
run as sent: InvalidCommandError or InvalidEventError), ``moved`` (the router retries
elsewhere), ``failed`` (anything else).

The caller rebuilds an error only from ``_SPECS``, a fixed table keyed by type name: the
remote type name selects a row, it never names a class to import. Each field is checked
before the class's own constructor is called with it (text bounded and free of lone
surrogates, integers 64-bit and not booleans, floats finite), and an error about "this
actor" (VersionConflictError, DuplicateEventIdError) must name the actor the command was
sent to. So whatever an owner answers, the caller raises one of these refusals with fields
it could have produced itself, never anything else. A reply that does not fit its row (an
older owner that sends no fields, a field out of range) falls back to the kind's base
error: InvalidCommandError for ``invalid``, RemoteCommandError otherwise. Types not in the
table (errors that are not AetherErrors, a user's DomainError subclass keeps its kind and
arrives as DomainError) arrive as RemoteCommandError, or DomainError, with the message.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aether.aggregate import (
    InvalidAggregateError,
    InvalidStateError,
    MissingHandlerError,
    UnhandledMessageError,
)
from aether.cluster.errors import ClusterUnavailableError
from aether.command import InvalidCommandError, UnknownCommandTypeError
from aether.errors import (
    AetherError,
    DomainError,
    DuplicateEventIdError,
    EventDecodeError,
    InvalidEventError,
    StoreConfigError,
    StoreUnavailableError,
    TransientError,
    UnknownEventTypeError,
    VersionConflictError,
)
from aether.registry import InvalidPayloadTypeError
from aether.upcasting import SchemaVersionError, UpcasterNotWrittenError

FORMAT = 1
DOMAIN, MOVED, INVALID, FAILED = "domain", "moved", "invalid", "failed"
MAX_MESSAGE = 4000
"""Characters of an error message kept on the wire (both when sending and when reading)."""
MAX_TEXTS = 1000
MAX_NAMES_TEXT = 20_000
MAX_INT = 2**63 - 1


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
    """The owning node could not execute the command, with an error that has no local
    counterpart to rebuild (``kind`` says why, ``error_type`` names the owner's error)."""

    def __init__(self, kind: str, error_type: str, message: str) -> None:
        self.kind = kind
        self.error_type = error_type
        self.message = message
        super().__init__(f"the owning node answered {error_type}: {message}")

    def __reduce__(self) -> tuple[type[RemoteCommandError], tuple[str, str, str]]:
        return (type(self), (self.kind, self.error_type, self.message))


class WireError(InvalidCommandError):
    """A request or reply that is not the JSON wire.py describes."""


def unreadable(why: str) -> RemoteCommandError:
    return RemoteCommandError(FAILED, "WireError",
                              f"unreadable reply from the owning node: {why}"[:2000])


# -- fields ---------------------------------------------------------------------------

Check = Callable[[object], bool]


def _text(limit: int) -> Check:
    def check(value: object) -> bool:
        if not isinstance(value, str) or len(value) > limit:
            return False
        try:
            value.encode()  # a lone surrogate (JSON's "\ud800") cannot be printed or logged
        except UnicodeEncodeError:
            return False
        return True
    return check


TEXT = _text(MAX_MESSAGE)
NAME = _text(600)  # ids and type names: actor ids are at most 512 bytes


def INT(value: object) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)
            and -MAX_INT - 1 <= value <= MAX_INT)


def FLOAT(value: object) -> bool:
    # abs() first: a JSON integer is unbounded and math.isfinite(10**400) overflows.
    return (isinstance(value, float | int) and not isinstance(value, bool)
            and abs(value) <= 1e9 and math.isfinite(value))


def NAMES(value: object) -> bool:
    # Bounded in total too: the rebuilt message lists them all.
    return (isinstance(value, list) and len(value) <= MAX_TEXTS and all(map(NAME, value))
            and sum(map(len, value)) <= MAX_NAMES_TEXT)


@dataclass(frozen=True)
class _Spec:
    """How one error type crosses the wire: its kind and the constructor arguments, read
    from the attributes of the same names (none: the message is the only argument)."""

    cls: type[AetherError]
    kind: str
    fields: tuple[tuple[str, Check], ...] = ()
    about_actor: bool = False
    """Its ``actor_id`` must be the actor the command was sent to."""

    def values(self, exc: AetherError) -> dict[str, Any] | None:
        values = {name: getattr(exc, name, None) for name, _ in self.fields}
        return values if self._fit(values) else None

    def rebuild(self, message: str, fields: object, actor_id: str) -> AetherError | None:
        if not self.fields:
            return self.cls(message)
        if not isinstance(fields, dict) or set(fields) != {n for n, _ in self.fields}:
            return None
        if not self._fit(fields) or (self.about_actor and fields["actor_id"] != actor_id):
            return None
        return self.cls(*(fields[name] for name, _ in self.fields))

    def _fit(self, values: dict[str, Any]) -> bool:
        return all(check(values.get(name)) for name, check in self.fields)


_SPECS: dict[str, _Spec] = {spec.cls.__name__: spec for spec in [
    _Spec(DomainError, DOMAIN),
    _Spec(InvalidCommandError, INVALID),
    _Spec(WireError, INVALID),
    _Spec(UnknownCommandTypeError, INVALID, (("command_type", NAME), ("known", NAMES))),
    _Spec(InvalidEventError, INVALID),
    _Spec(AetherError, FAILED),
    _Spec(VersionConflictError, FAILED, (
        ("actor_id", NAME), ("current_version", INT), ("attempted_version", INT)),
        about_actor=True),
    _Spec(DuplicateEventIdError, FAILED, (
        ("event_id", NAME), ("actor_id", NAME), ("version", INT), ("detail", TEXT)),
        about_actor=True),
    _Spec(CommandTimeoutError, FAILED, (
        ("actor_id", NAME), ("shard", INT), ("command_id", NAME), ("timeout", FLOAT),
        ("reason", TEXT))),
    _Spec(TransientError, FAILED),
    _Spec(StoreUnavailableError, FAILED),
    _Spec(StoreConfigError, FAILED),
    _Spec(EventDecodeError, FAILED),
    _Spec(SchemaVersionError, FAILED, (
        ("event_type", NAME), ("stored", NAME), ("current", INT), ("detail", TEXT))),
    _Spec(UnknownEventTypeError, FAILED, (("event_type", NAME), ("known", NAMES))),
    _Spec(UnhandledMessageError, FAILED),
    _Spec(MissingHandlerError, FAILED),
    _Spec(InvalidStateError, FAILED),
    _Spec(InvalidAggregateError, FAILED),
    _Spec(InvalidPayloadTypeError, FAILED),
    _Spec(UpcasterNotWrittenError, FAILED),
    _Spec(ClusterUnavailableError, FAILED),
]}
"""Every AetherError a command can meet on its owner that its caller raises as itself."""

REBUILT: tuple[type[AetherError], ...] = tuple(spec.cls for spec in _SPECS.values())


def kind_of(exc: AetherError) -> str:
    """The kind of the reply to a command that failed with ``exc`` on its owner."""
    if isinstance(exc, DomainError):
        return DOMAIN
    if isinstance(exc, ShardMovedError):
        return MOVED
    if isinstance(exc, InvalidCommandError | InvalidEventError):
        return INVALID
    return FAILED


def utf8_json(value: object) -> bytes:
    """``value`` as compact JSON in UTF-8 (not JSON's 6- and 12-byte escapes, so a message
    is about the size of its text); a lone surrogate, which has no UTF-8 form, escaped."""
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return json.dumps(value, separators=(",", ":")).encode()


def encode_error(kind: str, exc: BaseException, error_type: str | None = None,
                 max_payload: int | None = None) -> bytes:
    """The error reply for ``exc``; its fields go along when its exact type is in the
    table and they fit (else the caller falls back to the kind's base error).

    With ``max_payload`` the reply fits it: a long message is cut, and when that is not
    enough the fields are left out (the caller then raises the kind's base error)."""
    spec = _SPECS.get(type(exc).__name__)
    message = str(exc)
    if error_type is None and spec is None and isinstance(exc, TransientError):
        # An outage the table does not name (a user's TransientError subclass) is still an
        # outage for the caller: sent as TransientError, its type kept in the message.
        error_type, message = TransientError.__name__, f"{type(exc).__name__}: {message}"
    error: dict[str, Any] = {"kind": kind, "type": error_type or type(exc).__name__,
                             "message": message[:MAX_MESSAGE]}
    if spec is not None and spec.cls is type(exc) and spec.fields and error_type is None:
        assert isinstance(exc, AetherError)
        values = spec.values(exc)
        if values is not None:
            error["fields"] = values
    reply = utf8_json({"format": FORMAT, "error": error})
    if max_payload is None:
        return reply
    while len(reply) > max_payload:
        if len(error["message"]) > 200:
            error["message"] = error["message"][:len(error["message"]) // 2] + "..."
        elif "fields" in error:
            del error["fields"]
        elif error["message"]:
            error["message"] = error["message"][:len(error["message"]) // 2]
        else:
            break  # kind and type alone: a server that cannot carry these carries nothing
        reply = utf8_json({"format": FORMAT, "error": error})
    return reply


def decode_error(error: object, actor_id: str) -> AetherError:
    """The exception for an owner's error reply (see the module docstring): a
    RemoteCommandError is returned for the router to act on (``moved``: retry), every
    other is what the caller raises."""
    if not isinstance(error, dict):
        return unreadable("its error is not an object")
    kind, error_type, message = error.get("kind"), error.get("type"), error.get("message")
    if not (isinstance(kind, str) and NAME(error_type) and isinstance(message, str)):
        return unreadable("its error has no kind, type and message text")
    assert isinstance(error_type, str)
    message = message[:MAX_MESSAGE]
    if not TEXT(message):
        message = message.encode(errors="replace").decode()
    if kind == DOMAIN:  # any refusal, the user's DomainError subclasses too
        return DomainError(message)
    spec = _SPECS.get(error_type)
    if spec is not None and spec.kind == kind:
        rebuilt = spec.rebuild(message, error.get("fields"), actor_id)
        if rebuilt is not None:
            return rebuilt
        if issubclass(spec.cls, TransientError):
            # An outage whose fields do not fit (an older owner, a field out of range) is
            # still an outage: a ReactionRunner must pause on it, not park the event.
            return TransientError(message)
    if kind == INVALID:
        return InvalidCommandError(message)
    return RemoteCommandError(kind[:40], error_type, message)
