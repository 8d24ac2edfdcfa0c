"""Commands and a router over the Account aggregate (tests/runtime/accounts.py) for the
aggregate cache tests, and the code a second OS process runs (spawned, so importable)."""

from __future__ import annotations

import asyncio
import multiprocessing.connection
from decimal import Decimal
from typing import Any, ClassVar

import nats

from aether import CommandRouter, DomainError, EventStore, Repository
from aether.command import Command
from aether.store import JetStreamEventStore
from tests.runtime.accounts import Account, registry


class Open(Command):
    command_type: ClassVar[str] = "Open"
    owner: str


class Deposit(Command):
    command_type: ClassVar[str] = "Deposit"
    amount: Decimal


class Withdraw(Command):
    command_type: ClassVar[str] = "Withdraw"
    amount: Decimal


def bank_router(store: EventStore, cache_size: int = 1024, aggregate: type[Account] = Account,
                **options: Any) -> tuple[CommandRouter, Repository[Account]]:
    """A router of the three commands, and the repository behind it."""
    repository = Repository(store, aggregate, registry(), cache_size=cache_size, **options)
    router = CommandRouter()
    router.route(Open, repository, lambda account, command: account.open(command.owner))
    router.route(Deposit, repository, lambda account, command: account.deposit(command.amount))
    router.route(Withdraw, repository,
                 lambda account, command: account.withdraw(command.amount))
    return router, repository


Answer = tuple[str, list[tuple[int, str, dict[str, Any]]]]
"""What a send answered: ("ok", [(version, event type, data)]) or ("refused", [])."""


async def answer(router: CommandRouter, actor_id: str, command: Command,
                 metadata: dict[str, str] | None = None) -> Answer:
    try:
        events = await router.send(actor_id, command, metadata)
    except DomainError:
        return "refused", []
    return "ok", [(event.version, event.event_type, dict(event.data)) for event in events]


def serve(url: str, stream: str, conn: multiprocessing.connection.Connection) -> None:
    """Run a cached router in this process: take (actor id, command) from ``conn``, send
    it, answer with ``answer``'s result; None stops."""
    asyncio.run(_serve(url, stream, conn))


async def _serve(url: str, stream: str, conn: multiprocessing.connection.Connection) -> None:
    nc = await nats.connect(url)
    router, repository = bank_router(await JetStreamEventStore.create(nc, stream))
    while (request := await asyncio.to_thread(conn.recv)) is not None:
        actor_id, command = request
        result = await answer(router, actor_id, command)
        conn.send((result, actor_id in repository.cache))
    await nc.drain()
