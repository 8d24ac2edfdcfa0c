"""A connection caught while its owner drains it, for tests of what a drain does to requests."""

from __future__ import annotations

import asyncio

from nats.aio.client import Client
from nats.aio.msg import Msg


async def start_draining(nc: Client) -> asyncio.Task[None]:
    """Start draining ``nc`` and return (with the drain's task) once it is in the drain's
    first phase, where it stays about a second: a slow subscription's message holds it
    there. Its subscriptions are going then, while nats-py still takes publishes."""
    busy = asyncio.Event()

    async def slow(_: Msg) -> None:
        busy.set()
        await asyncio.sleep(1.0)

    await nc.subscribe("busy", cb=slow)
    await nc.publish("busy", b"")
    await busy.wait()
    draining = asyncio.create_task(nc.drain())
    await asyncio.sleep(0.05)
    assert nc.is_draining
    return draining
