"""CommandRouter: send a command to an aggregate, load-handle-save with optimistic concurrency."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aether.aggregate import AggregateRoot, Repository
from aether.command import Command, SenderBase, command_metadata
from aether.errors import AetherError
from aether.event import Event


@dataclass(frozen=True)
class Route:
    """Where one command type goes: the repository of its aggregate and the handler."""

    repository: Repository[Any]
    handle: Callable[[AggregateRoot[Any], Command], None]


class CommandRouter(SenderBase):
    """Knows which aggregate handles which command type.

    ``send`` loads the target aggregate, lets it decide, and saves the new events.
    A VersionConflictError means another writer got there first; ``retries`` reruns
    the whole load-decide-save that many times before giving up.

    Every command carries a command id in its metadata (``COMMAND_ID``; generated when
    not given), stored on the events it produces: sending the same id again returns
    those events and changes nothing. This is the ``CommandSender`` protocol.
    """

    def __init__(self, retries: int = 3) -> None:
        self._routes: dict[type[Command], Route] = {}
        self.retries = retries

    def route(self, command_type: type[Command], repository: Repository[Any],
              handle: Callable[[Any, Any], None]) -> None:
        if command_type in self._routes:
            raise ValueError(f"{command_type.__name__} already has a route")
        self._routes[command_type] = Route(repository, handle)

    def route_for(self, command_type: type[Command]) -> Route:
        """The route of a command type (the actor host executes through it)."""
        route = self._routes.get(command_type)
        if route is None:
            raise AetherError(f"no aggregate handles {command_type.__name__}; route it with "
                              f"CommandRouter.route (generated packages do this in make_router)")
        return route

    @property
    def command_types(self) -> list[type[Command]]:
        return list(self._routes)

    async def send(self, aggregate_id: str, command: Command,
                   metadata: Mapping[str, str] | None = None) -> list[Event]:
        route = self._routes.get(type(command)) or self.route_for(type(command))
        return await route.repository.execute(
            aggregate_id, lambda aggregate: route.handle(aggregate, command),
            command_metadata(aggregate_id, command, metadata), retries=self.retries,
        )
