"""Aether runtime: event store, event bus, aggregates and cluster primitives."""

from aether.aggregate import AggregateRoot, Repository
from aether.command import Command, Dispatch
from aether.errors import (
    AetherError,
    DomainError,
    DuplicateEventIdError,
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
from aether.fieldtypes import JsonBytes
from aether.nats_eventbus import NATSEventBus
from aether.reactions import Policy, ReadModel, settle
from aether.registry import EventPayload, EventRegistry
from aether.router import CommandRouter

__all__ = [
    "ActorSnapshot",
    "AetherError",
    "AggregateRoot",
    "Command",
    "CommandRouter",
    "Dispatch",
    "DomainError",
    "DuplicateEventIdError",
    "Event",
    "EventBroadcaster",
    "EventBus",
    "EventDecodeError",
    "EventPayload",
    "EventRegistry",
    "EventStore",
    "InvalidEventError",
    "JsonBytes",
    "NATSEventBus",
    "OverflowPolicy",
    "Policy",
    "ReadModel",
    "Repository",
    "SnapshotStore",
    "StoreConfigError",
    "StoreUnavailableError",
    "Subscription",
    "SubscriptionClosedError",
    "UnknownEventTypeError",
    "VersionConflictError",
    "settle",
]
