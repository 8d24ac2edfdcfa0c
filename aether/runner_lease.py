"""The lease by which exclusive reaction runners of one name take turns (aether/lease.py's
algorithm, kept in the runner's checkpoint store), and what a runner's lease_ttl must be.

A runner started exclusive handles an event, parks or saves a checkpoint only while it holds
the lease it began its term under (``hold``); a handler slower than the lease can be trusted
for is warned of (``RunnerLease.check_pace``), as another runner may take it over meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import os
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from uuid import uuid4

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aether.errors import AetherError, TransientError
from aether.lease import SAFETY, Lease, LeaseStore, StoredLease
from aether.runner_state import RunnerCounters

log = logging.getLogger("aether.runner")  # one logger for all of a runner (docs/runtime.md)

LEASE_TTL = 5.0
"""The default lease_ttl of an exclusive reaction runner (a cluster's default too)."""
MIN_LEASE_TTL = 0.1
"""The shortest lease_ttl: its holder renews every quarter of it, one round trip each."""


class LeaseLostError(AetherError):
    """An exclusive reaction runner does not hold its lease: another runner of its name is
    active (or took over from it), so this one handles no event until it takes over."""

    def __init__(self, runner: str) -> None:
        self.runner = runner
        super().__init__(
            f"reaction runner {runner!r} does not hold its lease: another runner of that name "
            f"is active, so this one (a standby) handles no event until it takes over; use "
            f"the active one (runner.active), or a runner that is not started")

    def __reduce__(self) -> tuple[type[LeaseLostError], tuple[str]]:
        return (type(self), (self.runner,))


class RunnerLeaseRecord(BaseModel):
    """The value of a runner's lease key: who holds it (``holder`` is unique to one runner
    object; ``host`` is for operators) and how long a candidate must wait."""

    model_config = ConfigDict(frozen=True)

    holder: str
    host: str = ""
    pid: int = 0
    pids: str = ""
    """Where ``pid`` means that process: the kernel's boot id and pid namespace ("" when
    unknown). A candidate that shares them can tell whether the holder still exists."""
    lease_ttl: float = Field(gt=0)


@functools.cache
def pid_space() -> str:
    """This process's kernel boot and pid namespace: processes that share them see the same
    process behind a pid ("" where /proc does not say)."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        return f"{boot}/{os.readlink('/proc/self/ns/pid')}"
    except OSError:
        return ""


def gone(record: RunnerLeaseRecord) -> bool:
    """Whether the process that wrote ``record`` has certainly ended: it ran in this pid
    space, in another process, and its pid is free. A pid taken again since (or a zombie
    not yet reaped) only looks alive, which makes a candidate wait the lease out."""
    if not record.pids or record.pids != pid_space() or record.pid in (0, os.getpid()):
        return False
    try:
        os.kill(record.pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


class RunnerLease(Lease):
    """The lease of one exclusive ReactionRunner (aether/lease.py's algorithm), kept in its
    checkpoint store under the runner's name, and the *term* the runner handles events in.

    A started runner handles an event, parks or saves a checkpoint only while it holds the
    lease it took at the start of its term (``check``): a lease lost and taken again starts
    a new term, from the checkpoints (or from its own positions where they are further).
    A candidate takes the lease without waiting it out when the record is its own (it let
    go, after an outage longer than its lease, and nobody took the lease since), or when
    its holder's process has ended on this machine (``gone``: a crashed runner restarted in
    place takes over at once)."""

    def __init__(self, store: LeaseStore, runner: str, lease_ttl: float, *,
                 alive: Callable[[], bool], counters: RunnerCounters,
                 progress: asyncio.Event, grace: float) -> None:
        super().__init__(store, runner, lease_ttl, lease_ttl / 4, grace=grace,
                         label=f"reaction runner {runner!r}", logger=log)
        self.store = store
        self.runner = runner
        self.holder = uuid4().hex
        self.term: int | None = None
        """While the runner is started: the epoch it handles events under (0: a standby)."""
        self.taken = asyncio.Event()
        self._alive = alive
        self._counters = counters
        self._progress = progress
        self._unwatch: Callable[[], Awaitable[None]] | None = None

    def check(self) -> None:
        """LeaseLostError when the runner is started and no longer holds the lease it began
        its term under (or is a standby)."""
        if self.term is not None and not (self.held() and self.epoch == self.term):
            raise LeaseLostError(self.runner)

    def check_pace(self, handler: str, position: int, took: float) -> None:
        """Warn when a handler took longer than the lease can be trusted: a handler that
        blocks the event loop keeps the lease from being renewed, and another runner of
        the name takes over and handles the same events again."""
        if took > SAFETY * self.lease_ttl:
            log.warning(
                "reaction runner %r: %s took %.1f s on position %d, longer than its lease "
                "lasts (lease_ttl %.1f s): another runner of the name may have taken over and "
                "handle it again; give lease_ttl more than the slowest handler takes, or "
                "make the handler await its I/O", self.runner, handler, took, position,
                self.lease_ttl)

    async def begin(self, task: asyncio.Task[None]) -> None:
        """The runner started (``task``): watch the key, try for the lease, and keep at it.
        When the task ends (halted, failed) the lease is let go at once."""
        self.term = 0
        task.add_done_callback(lambda _: self.wake())
        if self._unwatch is None:
            try:
                self._unwatch = await self.store.watch_lease(self.key, self.wake)
            except TransientError as exc:  # standbys then see a release by reading, later
                log.warning("%s cannot watch its lease: %s", self.label, exc)
        await self.start(tolerate=(TransientError,))
        if self.held():
            self.term = self.epoch
        else:
            log.info("%s waits as a standby: another runner of that name holds the lease",
                     self.label)

    async def turn(self) -> None:
        """Wait, as a standby, until the lease is held, and begin a term under it."""
        while not self.held():
            self.term = 0
            self._progress.set()  # waiters look at the checkpoints meanwhile
            await self.taken.wait()
            if not self.held():
                await asyncio.sleep(0.05)  # lapsed, and the loop has not noticed yet
        self.term = self.epoch

    async def stop_renewing(self) -> None:
        await super().stop_renewing()
        unwatch, self._unwatch = self._unwatch, None
        if unwatch is not None:
            with contextlib.suppress(Exception):  # best effort: the connection may be gone
                await unwatch()

    async def release(self) -> None:
        """The runner stopped: let go of the lease (delete it, if still held)."""
        self.term = None
        await self._resign("stopping")

    def _record(self, acquiring: bool) -> bytes:
        return RunnerLeaseRecord(holder=self.holder, host=socket.gethostname(),
                                 pid=os.getpid(), pids=pid_space(), lease_ttl=self.lease_ttl
                                 ).model_dump_json().encode()

    def _parse(self, entry: StoredLease) -> RunnerLeaseRecord | None:
        try:
            return RunnerLeaseRecord.model_validate_json(entry.value)
        except ValidationError:
            return None

    def _patience(self, entry: StoredLease) -> float:
        record = self._parse(entry)
        if record is None:
            return self.lease_ttl
        return 0.0 if record.holder == self.holder or gone(record) else record.lease_ttl

    def _unfit(self) -> str | None:
        if self._alive():
            return None
        self._stopping = True  # its runner halted or failed: this loop is done
        return "the runner stopped"

    async def _gained(self, revision: int) -> None:
        self.taken.set()
        self._counters.takeovers += 1
        self._progress.set()
        log.info("%s took its lease (epoch %d): it is the active one", self.label, revision)

    def _failed(self, exc: AetherError) -> None:
        super()._failed(exc)
        if isinstance(exc, TransientError) and not self._holding:
            self._counters.outages += 1  # a standby for the outage: it cannot take the lease

    async def _lost(self, why: str) -> None:
        self.taken.clear()
        self._progress.set()
        if self._stopping or not self._alive():
            log.info("%s let go of its lease (%s)", self.label, why)
            return
        self._counters.leases_lost += 1
        log.warning("%s lost its lease (%s): it handles no more events and waits as a "
                    "standby", self.label, why)


def check_lease_ttl(lease_ttl: object) -> float:
    """``lease_ttl`` as a float, or ValueError when it is not a number of seconds a lease can
    last (a bool is refused: True would pass for 1 s)."""
    if isinstance(lease_ttl, bool) or not isinstance(lease_ttl, int | float) \
            or not MIN_LEASE_TTL <= lease_ttl < math.inf:
        raise ValueError(f"lease_ttl is the seconds a runner's lease lasts without "
                         f"renewal: a number of at least {MIN_LEASE_TTL}, got {lease_ttl!r}")
    return float(lease_ttl)


def hold(lease: RunnerLease | None) -> None:
    """LeaseLostError when a runner started exclusive (under ``lease``) does not hold the
    lease it began its term under: it may neither handle an event nor save a checkpoint."""
    if lease is not None:
        lease.check()


def runner_lease(runner: str, checkpoints: object, exclusive: bool | None, lease_ttl: float,
                 checkpointed: bool, **kwargs: Any) -> RunnerLease | None:
    """The lease a ReactionRunner named ``runner`` takes turns by; None when it runs
    without one: ``exclusive=False``, no checkpoint store, (by default) a store that keeps
    no leases, or nothing ``checkpointed`` (only in-memory read models: every process keeps
    its own, and a standby's would stay empty)."""
    if exclusive is not None and not isinstance(exclusive, bool):
        raise ValueError(f"exclusive must be True, False or None, got {exclusive!r}")
    if exclusive is False:
        return None
    if not checkpointed and checkpoints is not None:
        if exclusive:
            raise ValueError(
                f"exclusive=True: runner {runner!r} checkpoints nothing (no policy, no "
                f"durable read model), so runners of its name have nothing to take turns "
                f"on: each process keeps its own in-memory read models")
        return None
    if checkpoints is None or not isinstance(checkpoints, LeaseStore):
        if exclusive:
            raise ValueError(
                f"exclusive=True: runners of one name take turns by a lease kept in their "
                f"checkpoint store, and {type(checkpoints).__name__} keeps none (see "
                f"aether.lease.LeaseStore); pass e.g. a JetStreamCheckpointStore")
        return None
    return RunnerLease(checkpoints, runner, lease_ttl, **kwargs)
