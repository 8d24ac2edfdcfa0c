"""The ``aether`` pytest plugin: real NATS servers and stores as fixtures.

Activated by the ``pytest11`` entry point when ``aether[testing]`` is installed (or with
``-p aether.testing.plugin``). Every server is a real nats-server on a free loopback port with
JetStream in a temporary directory; nothing is mocked.

Fixtures:
- ``nats_server``: one server shared by the session.
- ``private_nats_server``: a server of the test's own, durable (``sync_interval: always``), for
  tests that kill or restart it.
- ``plain_nats_server``: a server with JetStream off.
- ``nats_cluster``: three clustered servers of the test's own.
- ``nc``: a connection to ``nats_server``, drained after the test.
- ``memory_store``, ``jetstream_store``: a fresh, empty store per backend (the JetStream one
  with streams of its own, deleted after the test).

The async fixtures are declared with ``pytest_asyncio.fixture`` and the conformance suites mark
their tests ``asyncio``, so both work in pytest-asyncio's default strict mode as well as in auto
mode: a project needs no pytest configuration to use them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from uuid import uuid4

import nats
import pytest
import pytest_asyncio
from nats.aio.client import Client

from aether.store.jetstream import JetStreamConfig, JetStreamEventStore
from aether.store.memory import InMemoryEventStore
from aether.testing.servers import NatsServer, start_cluster


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """One JetStream-enabled nats-server shared by the session's tests."""
    server = NatsServer(store_dir=tmp_path_factory.mktemp("nats"), name="shared").start()
    yield server
    server.stop()


@pytest.fixture
def private_nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """A server of the test's own (durable: sync_interval always), for kill/restart tests."""
    server = NatsServer(store_dir=tmp_path / "nats", name="private", sync_always=True).start()
    yield server
    server.stop()


@pytest.fixture
def plain_nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """A server with JetStream off, to check what users see when they forget `-js`."""
    server = NatsServer(store_dir=tmp_path / "plain", name="plain", jetstream=False).start()
    yield server
    server.stop()


@pytest.fixture
def nats_cluster(tmp_path: Path) -> Iterator[list[NatsServer]]:
    """Three clustered JetStream servers of the test's own; stop or kill one to test failover."""
    servers = start_cluster(tmp_path / "cluster", size=3)
    yield servers
    for server in servers:
        server.stop()


@pytest_asyncio.fixture
async def nc(nats_server: NatsServer) -> AsyncIterator[Client]:
    client = await nats.connect(nats_server.url, connect_timeout=5, max_reconnect_attempts=5)
    yield client
    await client.drain()


@pytest.fixture
def memory_store() -> InMemoryEventStore:
    return InMemoryEventStore()


@pytest_asyncio.fixture
async def jetstream_store(nc: Client) -> AsyncIterator[JetStreamEventStore]:
    store = await JetStreamEventStore.create(
        nc, f"events_{uuid4().hex[:10]}", JetStreamConfig(storage="memory")
    )
    yield store
    js = nc.jetstream()
    await js.delete_stream(store.stream_name)
    await js.delete_stream(store.snapshot_stream_name)
