"""JetStreamConfig and the provisioning of the streams behind a JetStreamEventStore."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

import nats.errors
import nats.js.errors
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, StorageType, StreamConfig, StreamInfo
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from aether.errors import AetherError, StoreConfigError, StoreUnavailableError
from aether.limits import check_namespace
from aether.store.jsapi import reaching

OWNER_NAMESPACE = "aether.namespace"
OWNER_ROLE = "aether.role"


class JetStreamConfig(BaseModel):
    """How a JetStreamEventStore lays out and protects its streams.

    Defaults are safe for an event store: history never expires, never gets
    discarded to make room, and individual messages cannot be deleted. A config that
    cannot work raises StoreConfigError when it is made, before any stream exists.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    if not TYPE_CHECKING:  # hidden from mypy, which keeps checking the fields' types

        def __init__(self, **values: Any) -> None:
            # pydantic wraps StoreConfigError (a ValueError) into its ValidationError;
            # callers get the AetherError back, or one saying which setting is wrong.
            try:
                super().__init__(**values)
            except ValidationError as exc:
                raise _config_error(exc) from None

    namespace: str = ""
    """Tenant or environment; prefixes stream and subjects (sanitized, see naming.py); at
    most MAX_NAMESPACE_BYTES (64) bytes of UTF-8."""
    stream_retention: timedelta | None = None
    """Maximum event age. None keeps events forever. When set, an actor whose events
    have all expired reads as version 0 and its versions start again at 1."""
    replica_count: int = Field(default=1, ge=1, le=5)
    storage: Literal["file", "memory"] = "file"
    max_bytes: int | None = Field(default=None, gt=0)
    """Stream size cap. When reached, saves fail (discard new): history is never dropped."""
    duplicate_window: timedelta = Field(default=timedelta(minutes=2), gt=timedelta(0))
    """How long the server remembers event ids to drop a retried publish."""
    request_timeout: float = Field(default=5.0, gt=0)
    """Seconds to wait for any JetStream answer before raising StoreUnavailableError."""
    publish_attempts: int = Field(default=3, ge=1)
    """Tries per save when acks are lost; retries are safe thanks to event ids."""
    update_existing: bool = True
    """Update an existing stream whose settings differ (False: raise StoreConfigError)."""
    version_cache_size: int = Field(default=10_000, ge=0)
    """Actors whose last known position (after a save or a read) is remembered, saving a read
    per save."""

    @field_validator("namespace")
    @classmethod
    def _check_namespace(cls, namespace: str) -> str:
        return check_namespace(namespace)


def _config_error(exc: ValidationError) -> AetherError:
    for error in exc.errors(include_url=False):
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, AetherError):
            return cause
    problems = "; ".join(
        f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
        for error in exc.errors(include_url=False)
    )
    return StoreConfigError(f"invalid JetStreamConfig: {problems}")


def desired_stream(
    name: str, subjects: list[str], config: JetStreamConfig, role: str, per_subject: int = -1
) -> StreamConfig:
    return StreamConfig(
        name=name,
        subjects=subjects,
        storage=StorageType.FILE if config.storage == "file" else StorageType.MEMORY,
        num_replicas=config.replica_count,
        max_age=config.stream_retention.total_seconds() if config.stream_retention else 0,
        max_bytes=config.max_bytes or -1,
        discard=DiscardPolicy.NEW,
        duplicate_window=config.duplicate_window.total_seconds(),
        max_msgs_per_subject=per_subject,
        allow_direct=True,
        allow_atomic=True,
        deny_delete=True,
        deny_purge=True,
        metadata={OWNER_NAMESPACE: config.namespace, OWNER_ROLE: role},
    )


_COMPARED = (
    "subjects", "num_replicas", "max_age", "max_bytes", "discard", "duplicate_window",
    "max_msgs_per_subject", "allow_direct", "allow_atomic", "deny_delete", "deny_purge",
)


async def ensure_streams(js: JetStreamContext, wants: list[StreamConfig],
                         update_existing: bool) -> None:
    """Create the streams, or reconcile existing ones explicitly (never silently). Every
    existing stream's owner is checked before any stream is created, so a store refused for
    a name another namespace or store holds leaves no stream of its own behind."""
    found = []
    for want in wants:
        name = want.name or ""
        async with reaching(f"looking up stream {name!r}"):
            try:
                info: StreamInfo | None = await js.stream_info(name)
            except nats.js.errors.NotFoundError:
                info = None
        if info is not None:
            _check_owner(name, info.config, want)
        found.append(info)
    created: list[StreamConfig] = []
    try:
        for want, info in zip(wants, found, strict=True):
            if await _ensure_stream(js, want, update_existing, info):
                created.append(want)
    except ForeignStreamError:
        # Another store took a later name between our look and our create (store "f"
        # and store "f_snapshots" opened at once: "f_snapshots" is one's snapshot stream
        # and the other's event stream). Refused, take back what this call created.
        await _take_back(js, created)
        raise


async def _take_back(js: JetStreamContext, created: list[StreamConfig]) -> None:
    """Delete the streams this refused store created, if still empty and still ours.

    No store of ours can be using them: opening it takes every one of its names, and one
    of them belongs to someone else. Best effort: a stream that cannot be deleted now
    (the server went away) is left, as a refused create always left it before."""
    for want in created:
        name = want.name or ""
        with contextlib.suppress(nats.errors.Error, AetherError):
            async with reaching(f"removing stream {name!r} of a refused store"):
                info = await js.stream_info(name)
                have, ours = info.config.metadata or {}, want.metadata or {}
                if info.state.messages == 0 and all(
                        have.get(key) == ours.get(key) for key in (OWNER_NAMESPACE, OWNER_ROLE)):
                    await js.delete_stream(name)


async def _ensure_stream(js: JetStreamContext, want: StreamConfig, update_existing: bool,
                         info: StreamInfo | None) -> bool:
    """Create or reconcile one stream; True if this call created it."""
    name = want.name or ""
    if info is None:
        async with reaching(f"creating stream {name!r}"):
            try:
                await js.add_stream(want)
                return True
            except nats.js.errors.ServiceUnavailableError:
                raise  # no JetStream answering: `reaching` reports it
            except nats.js.errors.APIError as exc:
                if exc.err_code != ERR_STREAM_NAME_IN_USE:
                    raise _refused(name, want, exc) from exc
                # Someone created it first (another process, another namespace that
                # sanitizes alike): check what they made like any existing stream.
                info = await js.stream_info(name)
                _check_owner(name, info.config, want)  # ensure_streams checked those it found
    have = info.config
    if have.storage != want.storage:
        raise StoreConfigError(
            f"stream {name!r} exists with {_storage(have)} storage, the config asks for "
            f"{_storage(want)}; JetStream cannot change storage in place: migrate the stream "
            f"or use storage={_storage(have)!r}"
        )
    differences = [
        f"{field}: {getattr(have, field)!r} -> {getattr(want, field)!r}"
        for field in _COMPARED
        if _normal(getattr(have, field)) != _normal(getattr(want, field))
    ]
    if not differences:
        return False
    if not update_existing:
        raise StoreConfigError(
            f"stream {name!r} exists with other settings ({'; '.join(differences)}); "
            f"pass update_existing=True to update it, or match its settings"
        )
    async with reaching(f"updating stream {name!r}"):
        try:
            await js.update_stream(want)
        except nats.js.errors.BadRequestError as exc:
            raise StoreConfigError(
                f"stream {name!r} could not be updated ({'; '.join(differences)}): "
                f"{exc.description}"
            ) from exc
    return False


ERR_STREAM_NAME_IN_USE = 10058
ERR_NO_SUITABLE_PEERS = 10005


def _refused(name: str, want: StreamConfig, exc: nats.js.errors.APIError) -> AetherError:
    """The server would not create the stream: a placement problem may pass (a cluster still
    forming), anything else is the config's."""
    if exc.err_code == ERR_NO_SUITABLE_PEERS:
        return StoreUnavailableError(
            f"JetStream could not place stream {name!r} with {want.num_replicas} replica(s): "
            f"{exc.description}; start enough JetStream servers (or lower replica_count) and "
            f"retry"
        )
    return StoreConfigError(f"JetStream refused to create stream {name!r}: {exc.description}")


class ForeignStreamError(StoreConfigError):
    """A stream of this store's name belongs to another namespace or store (their names
    sanitize alike); a StoreConfigError, exported as ``aether.store.ForeignStreamError``."""


def _check_owner(name: str, have: StreamConfig, want: StreamConfig) -> None:
    have_meta = have.metadata or {}
    want_meta = want.metadata or {}
    for key in (OWNER_NAMESPACE, OWNER_ROLE):
        if have_meta.get(key) != want_meta.get(key):
            raise ForeignStreamError(
                f"stream {name!r} already belongs to {key.split('.')[1]} "
                f"{have_meta.get(key)!r}, not {want_meta.get(key)!r}: two namespaces or stores "
                f"map to the same stream name; choose a namespace or store name that differs "
                f"after sanitizing (spaces, dots, * and > all become _)"
            )


def _normal(value: object) -> object:
    # The server reports "unlimited" as -1 or 0 and durations as floats.
    if value in (None, 0, -1, 0.0):
        return None
    if isinstance(value, list):
        return sorted(value)
    return value


def _storage(config: StreamConfig) -> str:
    return "memory" if config.storage == StorageType.MEMORY else "file"
