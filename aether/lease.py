"""Lease: one holder at a time for one key, taken and kept by compare-and-set.

The algorithm of the cluster's leader election (aether/cluster/leader.py) and of exclusive
reaction runners (``RunnerLease`` in aether/runner_lease.py):

- A candidate takes a free lease (no key, or a deleted one) by writing it with the revision
  it read as the expected last revision: one writer wins. The revision of that write is the
  holder's *epoch*: revisions only grow, so every new holder's epoch is greater than all
  before it.
- The holder renews every ``renew_interval`` by compare-and-set on its own last revision.
  It trusts its lease until ``SAFETY x lease_ttl`` after *sending* its last acknowledged
  renewal, and lets go by itself when that passes without one.
- A candidate that sees the same revision for a whole ``lease_ttl`` (the holder's, as its
  record says) by its own clock takes the lease over (compare-and-set on that revision). It
  first saw that revision after the holder sent it, so the takeover comes after the
  holder's own deadline: two holders are never valid at once, and no clocks need to agree
  (only run at about the same rate). A paused holder (SIGSTOP, a blocked loop) finds its
  lease expired on resume and its next renewal refused: it never acts on a stale lease.
- A graceful stop deletes the key (compare-and-set), so a candidate need not wait.

The keys are a small protocol (``LeaseKeys``: read with the last revision, write and delete
by compare-and-set); subclasses say what the record holds and what gaining or losing the
lease means to them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from aether.cancelling import raise_if_cancelled
from aether.errors import AetherError
from aether.loops import nap

SAFETY = 0.9
"""A holder trusts its lease for this share of ``lease_ttl`` after sending a renewal."""

log = logging.getLogger(__name__)


class LeaseRefused(Exception):
    """The key moved on since the revision a write expected: another writer came first."""


@dataclass(frozen=True)
class StoredLease:
    value: bytes
    revision: int


class LeaseKeys(Protocol):
    async def read_lease(self, key: str) -> tuple[StoredLease | None, int]:
        """The key's live record (None when absent or deleted) and its last revision,
        deletions included: the revision a compare-and-set must expect (0: never written)."""
        ...

    async def write_lease(self, key: str, value: bytes, expect: int) -> int:
        """Write if the key's last revision is ``expect``; the new revision. LeaseRefused
        when another write came first."""
        ...

    async def delete_lease(self, key: str, expect: int) -> None:
        """Delete if the key's last revision is ``expect``; LeaseRefused otherwise."""
        ...


@runtime_checkable
class LeaseStore(LeaseKeys, Protocol):
    """What a checkpoint store offers to keep the leases of its exclusive runners (both
    stores of aether.checkpoints do; the key is the runner's name)."""

    async def watch_lease(self, key: str, deleted: Callable[[], None],
                          ) -> Callable[[], Awaitable[None]]:
        """Call ``deleted`` whenever the key is deleted (a holder let go, so a standby need
        not wait), until the returned function is awaited."""
        ...


class Lease:
    """One party's side of a lease on ``key``: campaigns, holds and renews it in a
    background loop (``start``), lets go on ``stop``."""

    def __init__(self, keys: LeaseKeys, key: str, lease_ttl: float, renew_interval: float,
                 *, grace: float, label: str, logger: logging.Logger = log) -> None:
        if not lease_ttl > 0 or not 0 < renew_interval < lease_ttl * SAFETY:
            raise ValueError(f"lease_ttl must be positive and renew_interval below "
                             f"{SAFETY} x lease_ttl, got {lease_ttl} and {renew_interval}")
        self.keys = keys
        self.key = key
        self.lease_ttl = lease_ttl
        self.renew_interval = renew_interval
        self.label = label
        """Who campaigns, for log lines ("node n1")."""
        self.epoch = 0
        """The greatest epoch seen (this party's own while it holds the lease)."""
        self._log = logger
        self._grace = grace
        self._holding = False
        self._deadline = 0.0
        self._revision = 0
        self._observed: tuple[int, float] = (0, 0.0)
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    # ---- what subclasses say ------------------------------------------------------------

    def _record(self, acquiring: bool) -> bytes:
        """The value written when acquiring and renewing."""
        raise NotImplementedError

    def _seen(self, entry: StoredLease | None) -> None:
        """A candidate read the key: note who holds it (None: nobody)."""

    def _patience(self, entry: StoredLease) -> float:
        """How long a candidate must see ``entry``'s revision before taking it over."""
        return self.lease_ttl

    def _unfit(self) -> str | None:
        """Why this party must neither hold nor campaign now (None: it may)."""
        return None

    async def _gained(self, revision: int) -> None:
        """Called once the lease is taken, with its epoch."""

    async def _lost(self, why: str) -> None:
        """Called once the lease is no longer held."""

    async def _released(self) -> None:
        """Called after the key was deleted on letting go (to tell the candidates)."""

    def _failed(self, exc: AetherError) -> None:
        """A step of the loop met an error it goes on after (NATS out of reach)."""
        self._log.warning("%s: %s", self.label, exc)

    # ---- using it ----------------------------------------------------------------------

    def held(self) -> bool:
        return self._holding and time.monotonic() < self._deadline

    def valid_until(self) -> float:
        """Wall-clock end of the lease (0.0 when not held)."""
        if not self._holding:
            return 0.0
        return time.time() + (self._deadline - time.monotonic())

    def wake(self) -> None:
        self._wake.set()

    async def start(self, *, tolerate: tuple[type[AetherError], ...] = ()) -> None:
        """Campaign (or renew) once, then keep at it in the background. An error of a kind
        in ``tolerate`` in that first step is reported (``_failed``) and left to the loop."""
        self._stopping = False
        try:
            await self._step()
        except tolerate as exc:
            self._failed(exc)  # and the loop tries again
        self._task = asyncio.create_task(self._run(), name=f"lease:{self.label}")

    async def stop(self) -> None:
        """Stop renewing and let go: delete the key so a successor need not wait."""
        await self.stop_renewing()
        await self._resign("stopping")

    async def stop_renewing(self) -> None:
        """End the background loop; a lease held stays valid until it runs out."""
        self._stopping = True
        self._wake.set()
        task, self._task = self._task, None
        if task is None:
            return
        await asyncio.wait({task}, timeout=self._grace)
        while not task.done():  # cancelling is the fallback (see aether/cancelling.py)
            task.cancel()
            await asyncio.wait({task}, timeout=0.1)
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]

    # ---- the algorithm -----------------------------------------------------------------

    async def _resign(self, why: str) -> None:
        """Stop holding and, while the lease is still valid, delete it so a successor need
        not wait for it to run out."""
        if self._holding:
            revision, still_valid = self._revision, self.held()
            await self._lose(why)
            if still_valid:
                with contextlib.suppress(LeaseRefused, AetherError):
                    await self.keys.delete_lease(self.key, revision)
                    await self._released()

    async def _run(self) -> None:
        while True:
            await nap(self._wake, self.renew_interval)
            if self._stopping:
                return
            try:
                await self._step()
            except AetherError as exc:
                self._failed(exc)
            except Exception:  # a bug must not silence the loop: the lease would lapse
                self._log.exception("%s: unexpected error in the lease loop", self.label)
            raise_if_cancelled()
            if self._holding and time.monotonic() >= self._deadline:
                await self._lose("could not renew the lease in time")

    async def _step(self) -> None:
        unfit = self._unfit()
        if unfit is not None:
            await self._resign(unfit)
        elif self._holding:
            await self._renew()
        else:
            await self._campaign()

    async def _renew(self) -> None:
        if time.monotonic() >= self._deadline:
            await self._lose("lease expired")
            return
        sent = time.monotonic()
        try:
            self._revision = await self.keys.write_lease(self.key, self._record(False),
                                                         self._revision)
        except LeaseRefused:
            await self._lose("another took the lease")
            return
        self._deadline = sent + self.lease_ttl * SAFETY

    async def _campaign(self) -> None:
        entry, revision = await self.keys.read_lease(self.key)
        now = time.monotonic()
        self._seen(entry)
        if entry is not None:
            if entry.revision != self._observed[0]:
                self._observed = (entry.revision, now)
            if now - self._observed[1] < self._patience(entry):
                return
        await self._acquire(revision)

    async def _acquire(self, expect: int) -> None:
        sent = time.monotonic()
        try:
            revision = await self.keys.write_lease(self.key, self._record(True), expect)
        except LeaseRefused:
            return  # someone else won; we will read their lease next time
        self._holding, self._revision = True, revision
        self._deadline = sent + self.lease_ttl * SAFETY
        self.epoch = revision
        await self._gained(revision)

    async def _lose(self, why: str) -> None:
        if not self._holding:
            return
        self._holding = False
        self._observed = (0, 0.0)
        await self._lost(why)
