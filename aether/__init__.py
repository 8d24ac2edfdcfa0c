"""Aether runtime: event store, event bus, aggregates and cluster primitives."""

from aether.aggregate import AggregateRoot, Repository
from aether.command import Command, CommandSender, Dispatch, InvalidCommandError
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
from aether.event import COMMAND_ID, ActorSnapshot, Event, EventStore, SnapshotStore
from aether.eventbus import EventBroadcaster, EventBus, OverflowPolicy, Subscription
from aether.feed import EventFeed, Follow
from aether.fieldtypes import JsonBytes
from aether.reactions import Policy, ReadModel, settle
from aether.registry import EventPayload, EventRegistry
from aether.router import CommandRouter

__all__ = [
    "COMMAND_ID",
    "ActorSnapshot",
    "AetherError",
    "AggregateRoot",
    "Command",
    "CommandRouter",
    "CommandSender",
    "Dispatch",
    "DomainError",
    "Event",
    "EventBroadcaster",
    "EventBus",
    "EventDecodeError",
    "EventFeed",
    "EventPayload",
    "EventRegistry",
    "EventStore",
    "Follow",
    "InvalidCommandError",
    "InvalidEventError",
    "JsonBytes",
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
