"""Fixtures come from the ``aether`` pytest plugin (aether/testing/plugin.py); this file
chooses the hypothesis profile and adds the suite's own ``two_connections``.

HYPOTHESIS_PROFILE=deep runs the property tests with many more examples (see docs/testing.md).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest
from hypothesis import HealthCheck, settings
from nats.aio.client import Client

from aether.testing import NatsServer

# A shared 2-core machine: no per-example deadline, bounded examples in the test command.
settings.register_profile(
    "default", max_examples=25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "deep", max_examples=500, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def pytest_sessionstart(session: object) -> None:
    """Drop the locks generate left beside the suite's own models in an earlier run: a test
    that changes such a model would otherwise meet a breaking change against a stale lock."""
    for lock in Path(__file__).parent.rglob("*.lock.json"):
        lock.unlink()


@pytest.fixture
async def two_connections(nats_server: NatsServer) -> AsyncIterator[tuple[Client, Client]]:
    """Two connections to the session's server, as two processes have; drained after, so
    their subscriptions (a test's stand-in replicas) are gone before the next test."""
    a, b = await nats.connect(nats_server.url), await nats.connect(nats_server.url)
    yield a, b
    for nc in (a, b):
        with contextlib.suppress(nats.errors.ConnectionClosedError):
            await nc.drain()
