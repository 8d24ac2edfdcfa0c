"""Aether runtime: event store, event bus, aggregates and cluster primitives."""

from aether.aggregate import AggregateRoot, Repository
from aether.errors import (
    AetherError,
    DomainError,
    EventDecodeError,
    InvalidEventError,
    StoreConfigError,
    StoreUnavailableError,
    SubscriptionClosedError,
    UnknownEventTypeError,
    VersionConflictError,
)
from aether.event import ActorSnapshot, Event, EventStore, SnapshotStore
from aether.eventbus import EventBroadcaster, EventBus, OverflowPolicy, Subscription
from aether.registry import EventPayload, EventRegistry

__all__ = [
    "ActorSnapshot",
    "AetherError",
    "AggregateRoot",
    "DomainError",
    "Event",
    "EventBroadcaster",
    "EventBus",
    "EventDecodeError",
    "EventPayload",
    "EventRegistry",
    "EventStore",
    "InvalidEventError",
    "OverflowPolicy",
    "Repository",
    "SnapshotStore",
    "StoreConfigError",
    "StoreUnavailableError",
    "Subscription",
    "SubscriptionClosedError",
    "UnknownEventTypeError",
    "VersionConflictError",
]
