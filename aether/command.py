"""Commands: typed requests to change one aggregate, where to send them, and who sends them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Generic, Protocol, TypeVar, runtime_checkable
from uuid import uuid4

from pydantic import BaseModel, ConfigDict

from aether.errors import AetherError
from aether.event import COMMAND_ID, Event

MAX_COMMAND_ID = 256
_UNFIT_ID = re.compile(r"[\x00-\x1f\x7f]")


class Command(BaseModel):
    """Base of every typed command (generated code subclasses it)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    command_type: ClassVar[str]

    def target_actor_id(self) -> str:
        """The actor this command is for. Generated commands of an aggregate that declares
        its identity (``id: order_id``) return ``"<aggregate_snake>-<value>"``."""
        raise InvalidCommandError(
            f"{type(self).__name__} does not name its target: declare the aggregate's "
            f"identity in the model (`id: <field>`) and regenerate, or send it with "
            f"send(actor_id, command)"
        )


CommandT = TypeVar("CommandT", bound=Command, covariant=True)


@dataclass(frozen=True)
class Dispatch(Generic[CommandT]):
    """A command addressed to one aggregate: what policies return."""

    aggregate_id: str
    command: CommandT


class InvalidCommandError(AetherError):
    """A command cannot be sent as given (e.g. a malformed command id)."""


@runtime_checkable
class CommandSender(Protocol):
    """Anything that delivers a command to its aggregate and returns the events it produced.

    ``CommandRouter`` (in process) and the cluster router both satisfy it; policies, the
    reaction runner and apps hold a CommandSender and do not care which. A command is
    executed at most once per command id (``metadata[COMMAND_ID]``); a sender generates
    one when the caller gives none, and a repeat is answered with the original events.
    """

    async def send(self, actor_id: str, command: Command,
                   metadata: Mapping[str, str] | None = None) -> list[Event]: ...

    async def dispatch(self, dispatch: Dispatch[Command],
                       metadata: Mapping[str, str] | None = None) -> list[Event]: ...


def new_command_id() -> str:
    return uuid4().hex


def with_command_id(metadata: Mapping[str, str] | None) -> dict[str, str]:
    """A copy of ``metadata`` that carries a command id: the caller's (checked) or a new one."""
    meta = dict(metadata or {})
    command_id = meta.get(COMMAND_ID)
    if command_id is None:
        meta[COMMAND_ID] = new_command_id()
        return meta
    if not command_id or len(command_id) > MAX_COMMAND_ID or _UNFIT_ID.search(command_id):
        raise InvalidCommandError(
            f"command id {command_id[:80]!r} must be 1 to {MAX_COMMAND_ID} printable "
            f"characters: use e.g. a uuid, or leave it out and one is generated"
        )
    return meta
