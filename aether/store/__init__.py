"""Event store backends: in-memory (embedded default) and NATS JetStream (production)."""

from aether.store.jetstream import JetStreamConfig, JetStreamEventStore
from aether.store.memory import InMemoryEventStore
from aether.store.streams import ForeignStreamError

__all__ = ["ForeignStreamError", "InMemoryEventStore", "JetStreamConfig", "JetStreamEventStore"]
