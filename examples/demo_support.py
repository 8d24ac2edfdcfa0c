"""What the example demos share: an event store to run on, and a line describing it.

Demo helpers, not test plumbing (that is the ``aether.testing`` pytest plugin). The demos
find this module on PYTHONPATH, which ``python -m examples.run`` (``make demo``) sets.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import nats

from aether.store import InMemoryEventStore, JetStreamConfig, JetStreamEventStore
from aether.testing import running_nats_server


@contextlib.asynccontextmanager
async def local_event_store(
    name: str, namespace: str = "", jetstream: bool = False
) -> AsyncIterator[InMemoryEventStore | JetStreamEventStore]:
    """An event store for demos and experiments: in memory, or JetStream on a nats-server
    started in a temporary directory for the duration of the block."""
    if not jetstream:
        yield InMemoryEventStore()
        return
    with running_nats_server(name=f"{name}-demo") as server:
        nc = await nats.connect(server.url)
        try:
            yield await JetStreamEventStore.create(nc, name, JetStreamConfig(namespace=namespace))
        finally:
            await nc.drain()


def describe_store(store: InMemoryEventStore | JetStreamEventStore) -> str:
    if isinstance(store, JetStreamEventStore):
        return (f"JetStream; namespace {store.namespace!r} -> stream {store.stream_name!r}, "
                f"snapshots in {store.snapshot_stream_name!r}")
    return "the embedded in-memory event store"
