"""The background loop shape the cluster's components and leases share: sleep until due or
woken, and stop by asking the loop to end. Cancellation is only the fallback: on Python 3.11 both
``asyncio.wait_for`` and ``asyncio.timeout`` can swallow a cancellation that arrives as
their own timeout fires, which once left a stopping node's loop running forever."""

from __future__ import annotations

import asyncio


async def nap(wake: asyncio.Event, seconds: float) -> None:
    """Return after ``seconds``, or as soon as ``wake`` is set (and clear it)."""
    timer = asyncio.get_running_loop().call_later(seconds, wake.set)
    try:
        await wake.wait()
    finally:
        timer.cancel()
    wake.clear()


async def finish(task: asyncio.Task[None] | None, grace: float) -> None:
    """Wait up to ``grace`` seconds for a loop told to stop, then cancel it until it ends."""
    if task is None:
        return
    await asyncio.wait({task}, timeout=grace)
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=0.1)
    if not task.cancelled() and task.exception() is not None:
        raise task.exception()  # type: ignore[misc]
