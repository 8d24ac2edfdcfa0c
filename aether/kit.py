"""Everything generated code imports, from one place.

Exactly what generated code uses, no more (tests/codegen/test_kit.py keeps it so).
Generated modules depend on ``aether.kit`` alone (plus the standard library and
their own package), so they read the same, and sort their imports the same,
whether a project counts aether as first- or third-party.
"""

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from aether.aggregate import (
    UNSET,
    AggregateRoot,
    Repository,
    UnhandledMessageError,
    Unset,
    check_implemented,
    evolve,
)
from aether.checkpoints import CheckpointStore
from aether.cluster.host import ActorHost
from aether.cluster.manager import ClusterManager
from aether.cluster.routing import ClusterRouter
from aether.command import Command, CommandRegistry, CommandSender, Dispatch
from aether.errors import DomainError
from aether.event import Event, EventStore, SnapshotStore
from aether.eventbus import EventBroadcaster
from aether.external import ExternalSystem
from aether.feed import EventFeed
from aether.fieldtypes import JsonBytes
from aether.policy_reads import read_model_of, run_policy_scenario
from aether.reactions import Policy, ReadModel
from aether.registry import EventPayload, EventRegistry
from aether.router import CommandRouter
from aether.runner import ReactionRunner, RetryPolicy
from aether.store.memory import InMemoryEventStore
from aether.upcasting import SCHEMA_VERSION, UpcastStep, not_written

__all__ = [
    "SCHEMA_VERSION",
    "UNSET",
    "ActorHost",
    "AggregateRoot",
    "BaseModel",
    "CheckpointStore",
    "ClusterManager",
    "ClusterRouter",
    "Command",
    "CommandRegistry",
    "CommandRouter",
    "CommandSender",
    "ConfigDict",
    "Dispatch",
    "DomainError",
    "Event",
    "EventBroadcaster",
    "EventFeed",
    "EventPayload",
    "EventRegistry",
    "EventStore",
    "ExternalSystem",
    "Field",
    "InMemoryEventStore",
    "JsonBytes",
    "JsonValue",
    "Policy",
    "ReactionRunner",
    "ReadModel",
    "Repository",
    "RetryPolicy",
    "SnapshotStore",
    "UnhandledMessageError",
    "Unset",
    "UpcastStep",
    "check_implemented",
    "evolve",
    "not_written",
    "read_model_of",
    "run_policy_scenario",
]
