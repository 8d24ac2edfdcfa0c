"""The one error hierarchy of the runtime: every failure a caller can act on is an AetherError."""

from __future__ import annotations


class AetherError(Exception):
    """Root of every error Aether raises on purpose."""


class InvalidEventError(AetherError):
    """An event (or a batch of events) breaks a rule that holds before any storage is touched.

    Deliberately not a ValueError: pydantic wraps ValueErrors raised in validators
    into its own ValidationError, and this one must reach the caller as itself.
    """


class VersionConflictError(AetherError):
    """Someone else wrote this actor first: reload, re-decide, retry.

    ``current_version`` is the actor's latest stored version at the time of the
    failed write, so a caller can tell how far behind it was.
    """

    def __init__(self, actor_id: str, current_version: int, attempted_version: int) -> None:
        self.actor_id = actor_id
        self.current_version = current_version
        self.attempted_version = attempted_version
        super().__init__(
            f"version conflict for actor {actor_id!r}: attempted version {attempted_version}, "
            f"but the latest stored version is {current_version}; "
            f"reload the actor and retry with a version greater than {current_version}"
        )

    def __reduce__(self) -> tuple[type[VersionConflictError], tuple[str, int, int]]:
        # Keeps the fields when the error crosses a process boundary (multiprocessing, pickle).
        return (type(self), (self.actor_id, self.current_version, self.attempted_version))


class DuplicateEventIdError(AetherError):
    """A different event already stored under this event id: nothing was written.

    Event ids are the deduplication key (JetStream drops a second message with a known id),
    so a reused id would silently lose the event; every store refuses it instead. Saving
    the very same event again (a retry) is not an error.
    """

    def __init__(self, event_id: str, actor_id: str, version: int, detail: str = "") -> None:
        self.event_id = event_id
        self.actor_id = actor_id
        self.version = version
        self.detail = detail
        super().__init__(
            f"event id {event_id[:80]!r} (version {version} of actor {actor_id[:80]!r}) is "
            f"already used by another stored event{detail}; nothing was written: give every "
            f"event an id of its own (str(uuid4()))"
        )

    def __reduce__(self) -> tuple[type[DuplicateEventIdError], tuple[str, str, int, str]]:
        return (type(self), (self.event_id, self.actor_id, self.version, self.detail))


class UnknownEventTypeError(AetherError, LookupError):
    """A stored event's type has no payload class registered to decode it."""

    def __init__(self, event_type: str, known: list[str]) -> None:
        self.event_type = event_type
        self.known = list(known)
        hint = ", ".join(sorted(known)) if known else "none registered"
        super().__init__(
            f"no payload class registered for event type {event_type!r} (known: {hint}); "
            f"register it with EventRegistry.register before loading"
        )

    def __reduce__(self) -> tuple[type[UnknownEventTypeError], tuple[str, list[str]]]:
        return (type(self), (self.event_type, self.known))


class EventDecodeError(AetherError, ValueError):
    """Stored bytes or data could not be turned back into an event or payload."""


class TransientError(AetherError):
    """Marker base: infrastructure was out of reach for the moment, not the request wrong.

    NATS or JetStream not answering, a cluster shard with no owner yet, a connection being
    re-established: the same request, unchanged, may succeed a moment later, so retrying it
    is right and giving up on it (parking an event, failing a job) is wrong. A
    ``ReactionRunner`` pauses on these and retries the same event with capped backoff, for
    as long as it takes. Errors that say something about the request itself (a
    ``DomainError``, an invalid command, a version conflict) are never transient.
    Subclasses: ``StoreUnavailableError`` here, and in ``aether.cluster``
    ``ClusterUnavailableError`` and ``CommandTimeoutError`` (the core never imports them:
    this class is how it recognises them).
    """


class StoreUnavailableError(TransientError, ConnectionError):
    """The backing infrastructure (NATS, JetStream) did not answer or refused the request."""


class StoreClosedError(StoreUnavailableError):
    """The NATS connection is closed for good: closed by its owner, or nats-py gave up
    reconnecting (``max_reconnect_attempts``, 60 tries by default, about two minutes). No
    retry on it can succeed; a reaction runner stops on it instead of pausing."""


class StoreConfigError(AetherError, ValueError):
    """A store was configured in a way that cannot work, or clashes with what already exists."""


class SubscriptionClosedError(AetherError):
    """An operation was attempted on a closed subscription or bus."""


class DomainError(AetherError):
    """An aggregate rejected a command because it breaks a business rule.

    Raised from command handlers; generated scenario tests expect it by class name.
    """
