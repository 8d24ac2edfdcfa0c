"""NATSEventBus across OS processes: delivery, order and isolation between separate programs,
and a subscriber killed with SIGKILL costs nobody else anything."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import nats
import pytest

from aether import NATSEventBus
from aether.testing import NatsServer, make_event
from aether.testing.conformance.bus import marker, read_n, read_until

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def worker(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "tests.bus.workers", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


async def wait_ready(process: subprocess.Popen[str]) -> None:
    assert process.stdout is not None
    line = await asyncio.to_thread(process.stdout.readline)
    assert line.strip() == "READY", process.stderr.read() if process.stderr else line


async def test_events_reach_other_processes_once_in_order_and_only_their_namespace(
    nats_server: NatsServer, processes: list[subprocess.Popen[str]]
) -> None:
    prefix, namespace, other, count = f"p{uuid4().hex[:8]}.bus", "tenant.a", "tenant_a", 300
    subscribers = [worker("subscribe", nats_server.url, prefix, namespace, "tenant.*")
                   for _ in range(2)]
    processes.extend(subscribers)
    for process in subscribers:
        await wait_ready(process)
    nc = await nats.connect(nats_server.url)
    here = NATSEventBus(nc, subject_prefix=prefix)
    local = await here.subscribe(namespace, max_pending=count + 1)
    publisher = worker("publish", nats_server.url, prefix, namespace, str(count), other)
    processes.append(publisher)
    assert await asyncio.to_thread(publisher.wait, 120) == 0, publisher.stderr

    assert [e.version for e in await read_n(local, count)] == list(range(1, count + 1))
    for process in subscribers:
        out, err = await asyncio.to_thread(process.communicate, timeout=120)
        assert process.returncode == 0, err
        rows = [json.loads(line) for line in out.splitlines()]
        exact = [row[3] for row in rows if row[0] == "exact"]
        pattern = [(row[1], row[3]) for row in rows if row[0] == "pattern"]
        assert exact == list(range(1, count + 1))  # tenant_a never reaches tenant.a
        assert pattern == [(namespace, v) for v in range(1, count + 1)]  # nor matches tenant.*
        assert rows[-1] == ["dropped", 0, 0]
    await here.close()
    await nc.close()


async def test_a_subscriber_killed_with_sigkill_stalls_nobody(
    nats_server: NatsServer, processes: list[subprocess.Popen[str]]
) -> None:
    prefix, namespace = f"k{uuid4().hex[:8]}.bus", "orders"
    doomed = worker("subscribe", nats_server.url, prefix, namespace, "*")
    processes.append(doomed)
    await wait_ready(doomed)
    publisher_nc, reader_nc = await nats.connect(nats_server.url), await nats.connect(
        nats_server.url)
    publisher = NATSEventBus(publisher_nc, subject_prefix=prefix)
    reader = NATSEventBus(reader_nc, subject_prefix=prefix)
    survivor = await reader.subscribe(namespace, max_pending=1000)
    first = [make_event("a", v) for v in range(1, 101)]
    for event in first:
        await publisher.publish(namespace, event)
    assert await read_n(survivor, len(first)) == first
    doomed.kill()  # SIGKILL: no goodbye to the server
    assert await asyncio.to_thread(doomed.wait, 30) == -9
    later = [make_event("a", v) for v in range(101, 401)]
    for event in later:
        await publisher.publish(namespace, event)
    end = marker()
    await publisher.publish(namespace, end)
    assert await read_until(survivor, end) == later
    await publisher.close()
    await reader.close()
    await publisher_nc.close()
    await reader_nc.close()
