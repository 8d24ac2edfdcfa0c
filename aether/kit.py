"""Everything generated code imports, from one place.

Generated modules depend on ``aether.kit`` alone (plus the standard library and
their own package), so they read the same, and sort their imports the same,
whether a project counts aether as first- or third-party.
"""

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from aether.aggregate import AggregateRoot, Repository
from aether.command import Command, Dispatch
from aether.errors import DomainError
from aether.event import Event, EventStore, SnapshotStore
from aether.eventbus import EventBroadcaster, EventBus
from aether.fieldtypes import JsonBytes
from aether.reactions import Policy, ReadModel
from aether.registry import EventPayload, EventRegistry
from aether.router import CommandRouter
from aether.store.memory import InMemoryEventStore

__all__ = [
    "AggregateRoot",
    "BaseModel",
    "Command",
    "CommandRouter",
    "ConfigDict",
    "Dispatch",
    "DomainError",
    "Event",
    "EventBroadcaster",
    "EventBus",
    "EventPayload",
    "EventRegistry",
    "EventStore",
    "Field",
    "InMemoryEventStore",
    "JsonBytes",
    "Policy",
    "ReadModel",
    "Repository",
    "SnapshotStore",
    "TypeAdapter",
]
