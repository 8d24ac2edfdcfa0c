from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client

from aether.testing import NatsServer


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
async def nc(nats_server: NatsServer) -> AsyncIterator[Client]:
    client = await nats.connect(nats_server.url, connect_timeout=5, max_reconnect_attempts=5)
    yield client
    await client.drain()
