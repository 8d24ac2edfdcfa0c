"""Aether runtime: event store, event bus, aggregates and cluster primitives."""

from aether.aggregate import AggregateRoot, InvalidRepositoryError, Repository
from aether.checkpoints import (
    UNDECODABLE,
    CheckpointStore,
    InMemoryCheckpointStore,
    InvalidNameError,
    InvalidPositionError,
    JetStreamCheckpointStore,
    ParkedEvent,
)
from aether.cluster.errors import ClusterUnavailableError
from aether.cluster.host import ActorHost
from aether.cluster.routing import ClusterRouter
from aether.cluster.wire import CommandTimeoutError, RemoteCommandError, ShardMovedError
from aether.command import (
    Command,
    CommandIdReusedError,
    CommandRegistry,
    CommandSender,
    Dispatch,
    InvalidCommandError,
    MisaddressedCommandError,
    UnknownCommandTypeError,
)
from aether.errors import (
    AetherError,
    DomainError,
    DuplicateEventIdError,
    EventDecodeError,
    InvalidEventError,
    StoreClosedError,
    StoreConfigError,
    StoreUnavailableError,
    SubscriptionClosedError,
    TransientError,
    UnknownEventTypeError,
    VersionConflictError,
)
from aether.event import (
    COMMAND_ID,
    COMMAND_TYPE,
    NO_EVENTS,
    ActorSnapshot,
    Event,
    EventStore,
    Latest,
    SnapshotStore,
)
from aether.eventbus import EventBroadcaster, EventBus, OverflowPolicy, Subscription
from aether.external import ExternalSystem, UndeclaredExternalEventError
from aether.feed import EventFeed, Follow, UndecodableEventError
from aether.fieldtypes import JsonBytes
from aether.lease import LeaseStore
from aether.limits import DEFAULT_MAX_PAYLOAD
from aether.nats_eventbus import NATSEventBus
from aether.policy_reads import MissingReadModelError, read_model_of, run_policy_scenario
from aether.reactions import Outcome, Policy, ReadModel
from aether.registry import EventPayload, EventRegistry
from aether.router import CommandRouter
from aether.runner import (
    LeaseLostError,
    ReactionRunner,
    Rejection,
    RetryPolicy,
    RunnerCounters,
    RunnerHalted,
    settle,
)

__all__ = [
    "COMMAND_ID",
    "COMMAND_TYPE",
    "DEFAULT_MAX_PAYLOAD",
    "NO_EVENTS",
    "UNDECODABLE",
    "ActorHost",
    "ActorSnapshot",
    "AetherError",
    "AggregateRoot",
    "CheckpointStore",
    "ClusterRouter",
    "ClusterUnavailableError",
    "Command",
    "CommandIdReusedError",
    "CommandRegistry",
    "CommandRouter",
    "CommandSender",
    "CommandTimeoutError",
    "Dispatch",
    "DomainError",
    "DuplicateEventIdError",
    "Event",
    "EventBroadcaster",
    "EventBus",
    "EventDecodeError",
    "EventFeed",
    "EventPayload",
    "EventRegistry",
    "EventStore",
    "ExternalSystem",
    "Follow",
    "InMemoryCheckpointStore",
    "InvalidCommandError",
    "InvalidEventError",
    "InvalidNameError",
    "InvalidPositionError",
    "InvalidRepositoryError",
    "JetStreamCheckpointStore",
    "JsonBytes",
    "Latest",
    "LeaseLostError",
    "LeaseStore",
    "MisaddressedCommandError",
    "MissingReadModelError",
    "NATSEventBus",
    "Outcome",
    "OverflowPolicy",
    "ParkedEvent",
    "Policy",
    "ReactionRunner",
    "ReadModel",
    "Rejection",
    "RemoteCommandError",
    "Repository",
    "RetryPolicy",
    "RunnerCounters",
    "RunnerHalted",
    "ShardMovedError",
    "SnapshotStore",
    "StoreClosedError",
    "StoreConfigError",
    "StoreUnavailableError",
    "Subscription",
    "SubscriptionClosedError",
    "TransientError",
    "UndeclaredExternalEventError",
    "UndecodableEventError",
    "UnknownCommandTypeError",
    "UnknownEventTypeError",
    "VersionConflictError",
    "read_model_of",
    "run_policy_scenario",
    "settle",
]
