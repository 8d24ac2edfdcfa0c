"""Runners of one name in separate OS processes: the active one killed (SIGKILL) or frozen
(SIGSTOP) while events flow, and its standby taking over.

Each worker (tests/reactions/lease_worker.py) applies every event to a durable read model
whose state is a file both see, one line per application, so every event applied twice
shows; its policy's commands must take effect once each whatever happens (command ids)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from uuid import uuid4

import nats
import pytest
import pytest_asyncio

from aether import JetStreamCheckpointStore
from aether.runner_lease import RunnerLeaseRecord, gone, pid_space
from aether.store import JetStreamEventStore
from aether.testing import NatsServer
from tests.reactions.lease_worker import RUNNER, applied
from tests.reactions.test_exclusive import COUNTERS, ticked
from tests.reactions.test_runner import counts, tick

ROOT = Path(__file__).resolve().parents[2]
LEASE_TTL = 3.0
READ_MODEL = "AppliedLog"


class Workers:
    """The test's own view of the store, and the worker processes it started."""

    def __init__(self, url: str, store: JetStreamEventStore,
                 checkpoints: JetStreamCheckpointStore, log: Path) -> None:
        self.url, self.store, self.checkpoints, self.log = url, store, checkpoints, log
        self.started: list[subprocess.Popen[str]] = []

    def spawn(self, tag: str, lease_ttl: float = LEASE_TTL,
              sleep: float = 0.0) -> subprocess.Popen[str]:
        """A worker process, once it said "ready" (its runner started, active or not);
        ``sleep``: seconds its read model blocks the event loop on every event."""
        worker = subprocess.Popen(
            [sys.executable, "-m", "tests.reactions.lease_worker", self.url,
             self.store.stream_name, str(self.log), tag, str(lease_ttl), str(sleep)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.started.append(worker)
        assert worker.stdout is not None
        line = worker.stdout.readline()
        assert line.strip() == "ready", (line, worker.stderr.read() if worker.stderr else "")
        return worker

    async def holder(self) -> int | None:
        """The pid of the process whose runner holds the lease (None: nobody)."""
        entry, _ = await self.checkpoints.read_lease(RUNNER)
        return None if entry is None else RunnerLeaseRecord.model_validate_json(entry.value).pid

    async def checkpoint(self) -> int:
        return await self.checkpoints.load(RUNNER, READ_MODEL)

    def applied_by(self, tag: str) -> int:
        return sum(1 for _, by in applied(self.log) if by == tag)

    @staticmethod
    def finish(worker: subprocess.Popen[str]) -> dict[str, int]:
        """Stop a worker gracefully (SIGTERM); its runner's counters."""
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=60)
        assert worker.returncode == 0, err[-3000:]
        counters: dict[str, int] = json.loads(out.strip().splitlines()[-1])
        return counters


@pytest_asyncio.fixture
async def workers(private_nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[Workers]:
    nc = await nats.connect(private_nats_server.url)
    store = await JetStreamEventStore.create(nc, f"lease_{uuid4().hex[:8]}")
    checkpoints = await JetStreamCheckpointStore.for_store(nc, store)
    made = Workers(private_nats_server.url, store, checkpoints, tmp_path / "applied")
    yield made
    for worker in made.started:
        with contextlib.suppress(ProcessLookupError):
            worker.send_signal(signal.SIGCONT)
            worker.kill()
        worker.communicate(timeout=30)
    await nc.drain()


async def until(condition: Callable[[], Awaitable[bool]], what: str,
                timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, f"not in {timeout}s: {what}"
        await asyncio.sleep(0.05)


async def produce(store: JetStreamEventStore, stop: asyncio.Event) -> None:
    """One tick every 10 ms until ``stop``."""
    number = 0
    while not stop.is_set():
        await tick(store, [COUNTERS[number % len(COUNTERS)]])
        number += 1
        await asyncio.sleep(0.01)


async def positions(store: JetStreamEventStore) -> dict[str, int]:
    """Feed position of every tick, by event id."""
    found, after = {}, 0
    while pairs := await store.read_all(after=after, event_types=["Ticked"]):
        found.update({event.id: position for position, event in pairs})
        after = pairs[-1][0]
    return found


async def all_applied(workers: Workers) -> bool:
    return set(await positions(workers.store)) <= {event_id for event_id, _ in
                                                    applied(workers.log)}


async def active_then_standby(workers: Workers) -> tuple[subprocess.Popen[str],
                                                         subprocess.Popen[str]]:
    first = workers.spawn("first")
    await until(lambda: _is(workers.holder(), first.pid), "the first worker takes the lease")
    second = workers.spawn("second")
    assert await workers.holder() == first.pid  # the second one is a standby
    return first, second


async def _is(pid: Awaitable[int | None], expected: int) -> bool:
    return await pid == expected


@pytest.mark.slow
async def test_a_killed_active_runner_is_replaced_by_its_standby_and_no_event_is_lost(
    workers: Workers,
) -> None:
    first, second = await active_then_standby(workers)
    stop = asyncio.Event()
    producing = asyncio.create_task(produce(workers.store, stop))

    async def working() -> bool:  # checkpointed some, and applied more since
        return await workers.checkpoint() > 0 and workers.applied_by("first") >= 40

    await until(working, "the first worker applies events")
    first.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    # Left unreaped until the takeover: its pid stays taken (a zombie), so the standby
    # cannot see it died and waits its lease out, as a standby on another machine does.
    await asyncio.sleep(0.5)  # a save it sent before it died has landed
    last_checkpoint = await workers.checkpoint()
    assert await workers.holder() == first.pid  # the lease is not out yet
    await until(lambda: _is(workers.holder(), second.pid), "the standby takes over")
    print(f"\nthe standby took over {time.monotonic() - killed:.2f}s after the SIGKILL "
          f"(lease_ttl {LEASE_TTL}s)")
    first.wait(timeout=30)
    await asyncio.sleep(1.0)  # events keep coming to the new active runner
    stop.set()
    await producing
    await until(lambda: all_applied(workers), "every event is applied")
    second_counters = Workers.finish(second)

    where = await positions(workers.store)
    times = Counter(event_id for event_id, _ in applied(workers.log))
    assert set(times) == set(where)  # nothing lost
    # Allowed: an event after the dead runner's last checkpoint is applied twice (once by
    # each runner: at-least-once across a crash). Nothing else is applied twice.
    again = {event_id for event_id, count in times.items() if count > 1}
    assert all(where[event_id] > last_checkpoint for event_id in again), last_checkpoint
    assert max(times.values()) <= 2
    assert second_counters["takeovers"] == 1
    assert await counts(workers.store, COUNTERS) == await ticked(workers.store)


@pytest.mark.slow
async def test_a_frozen_active_runner_is_replaced_and_once_thawed_handles_nothing(
    workers: Workers,
) -> None:
    first, second = await active_then_standby(workers)
    stop = asyncio.Event()
    producing = asyncio.create_task(produce(workers.store, stop))
    await until(lambda: _true(workers.applied_by("first") >= 40), "the first worker works")
    stop.set()
    await producing

    async def caught_up() -> bool:  # every event applied and checkpointed
        return (await all_applied(workers)
                and await workers.checkpoint() == await workers.store.last_position())

    await until(caught_up, "the first worker catches up")
    first.send_signal(signal.SIGSTOP)
    frozen = time.monotonic()
    applied_before = workers.applied_by("first")
    stop = asyncio.Event()
    producing = asyncio.create_task(produce(workers.store, stop))
    await until(lambda: _is(workers.holder(), second.pid), "the standby takes over")
    print(f"\nthe standby took over {time.monotonic() - frozen:.2f}s after the SIGSTOP "
          f"(lease_ttl {LEASE_TTL}s)")
    first.send_signal(signal.SIGCONT)
    await asyncio.sleep(2 * LEASE_TTL)  # events keep coming, the thawed one among them
    stop.set()
    await producing
    await until(lambda: all_applied(workers), "every event is applied")
    first_counters = Workers.finish(first)
    second_counters = Workers.finish(second)

    assert workers.applied_by("first") == applied_before  # nothing after the thaw
    times = Counter(event_id for event_id, _ in applied(workers.log))
    assert set(times) == set(await positions(workers.store)) and max(times.values()) == 1
    assert (first_counters["takeovers"], first_counters["leases_lost"]) == (1, 1)
    assert second_counters["takeovers"] == 1
    assert await counts(workers.store, COUNTERS) == await ticked(workers.store)


async def _true(value: bool) -> bool:
    return value


@pytest.mark.slow
async def test_a_runner_restarted_where_the_active_one_died_takes_over_at_once(
    workers: Workers,
) -> None:
    """Its holder's pid is free on this machine (same kernel, same pid namespace): that
    process has ended and cannot act, so there is no lease to wait out."""
    first = workers.spawn("first")
    await until(lambda: _is(workers.holder(), first.pid), "the first worker takes the lease")
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)  # reaped: its pid is free
    restarted = workers.spawn("restarted")
    assert await workers.holder() == restarted.pid  # taken as it started
    assert Workers.finish(restarted)["takeovers"] == 1


def test_a_process_counts_as_gone_only_once_its_pid_is_free_here() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    record = RunnerLeaseRecord(holder="h", pid=child.pid, pids=pid_space(), lease_ttl=1.0)
    while child.poll() is None:  # polling reaps it: until then a zombie keeps the pid
        time.sleep(0.01)
    assert gone(record)
    assert not gone(record.model_copy(update={"pids": "another machine"}))
    assert not gone(record.model_copy(update={"pid": os.getpid()}))
    assert not gone(RunnerLeaseRecord(holder="h", pid=os.getppid(), pids=pid_space(),
                                      lease_ttl=1.0))


async def test_handlers_slower_than_the_lease_never_make_two_runners_trade_one_event(
        workers: Workers) -> None:
    """Two processes whose read model blocks the event loop longer than the lease on every
    event: each lost the lease mid-event, neither could save the checkpoint once its lease
    was gone, so both began again at 0 and traded event 1 for ever (an attack helper saw it
    applied 11 times in 15 s, the rest never). A runner finding its lease lost saves how
    far it got: every event is applied, at most twice, and each runner warns of the
    handler that outlasted its lease."""
    await tick(workers.store, ["a"] * 4)
    runners = [workers.spawn(tag, lease_ttl=1.0, sleep=1.2) for tag in ("one", "two")]
    ids = [event.id for event in await workers.store.get_events("clock")]

    async def all_applied() -> bool:
        return set(ids) <= {event_id for event_id, _ in applied(workers.log)}

    await until(all_applied, "every event applied", timeout=90)
    await until(lambda: _at(workers, 4), "the checkpoint at the last event", timeout=90)
    warned = []
    for worker in runners:
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=60)
        warned.append("longer than its lease lasts" in err)
    assert max(Counter(event_id for event_id, _ in applied(workers.log)).values()) <= 2
    assert any(warned)


async def _at(workers: Workers, position: int) -> bool:
    return await workers.checkpoints.load(RUNNER, "SlowLog") >= position
