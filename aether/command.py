"""Commands: typed requests to change one aggregate, where to send them, and who sends them."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict, ValidationError

from aether.errors import AetherError
from aether.event import COMMAND_ID, COMMAND_TYPE, Event
from aether.records import new_command_id
from aether.typenames import TypeNames

MAX_COMMAND_ID = 256
_UNFIT_ID = re.compile(r"[\x00-\x1f\x7f]")


class Command(BaseModel):
    """Base of every typed command (generated code subclasses it)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    command_type: ClassVar[str]

    def target_actor_id(self) -> str:
        """The actor id of the aggregate this command is for, so ``send_command`` can route
        it without a separate id. Generated commands of an aggregate that declares an id
        field override this (``<aggregate_snake>-<value>``); the base class knows none."""
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


class CommandIdReusedError(InvalidCommandError, ValueError):
    """A command id the actor recorded for a command of another type: the id names one
    command, so the earlier one's events are no answer to this one."""


class MisaddressedCommandError(InvalidCommandError, ValueError):
    """A command sent to another actor than the one it names as its target."""


_names_target: dict[type[Command], bool] = {}  # per class: looked up once, not per command


def _check_addressed(actor_id: str, command: Command) -> None:
    """MisaddressedCommandError when ``command`` names its target (``target_actor_id``, as
    generated commands of an aggregate with an ``id`` do) and that is not ``actor_id``: its
    events would go into another actor's history (another aggregate's, whose every later
    command would then fail on an event it cannot apply)."""
    kind = type(command)
    names = _names_target.get(kind)
    if names is None:
        names = _names_target[kind] = kind.target_actor_id is not Command.target_actor_id
    if not names:
        return  # it names no target: the sender's actor id is the only one there is
    target = command.target_actor_id()
    if target != actor_id:
        raise MisaddressedCommandError(
            f"{type(command).__name__} is for actor {target[:80]!r}, not {actor_id[:80]!r}: "
            f"send it with send_command(command), or to {target[:80]!r}")


class UnknownCommandTypeError(InvalidCommandError, LookupError):
    """A command type name has no command class registered to decode it."""

    def __init__(self, command_type: str, known: list[str]) -> None:
        self.command_type = command_type
        self.known = known
        hint = ", ".join(sorted(known)) if known else "none registered"
        super().__init__(
            f"no command class registered for command type {command_type[:80]!r} (known: "
            f"{hint}); register it in the CommandRegistry the host decodes with (generated "
            f"packages: commands.command_registry)"
        )

    def __reduce__(self) -> tuple[type[UnknownCommandTypeError], tuple[str, list[str]]]:
        return (type(self), (self.command_type, self.known))


class InvalidCommandClassError(AetherError, TypeError):
    """A class cannot be registered as a command: it declares no ``command_type``."""


class DuplicateCommandTypeError(AetherError, ValueError):
    """Two command classes claim one command type; each maps to exactly one."""


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

    async def send_command(self, command: Command,
                           metadata: Mapping[str, str] | None = None) -> list[Event]:
        """``send(command.target_actor_id(), command, metadata)``: for commands whose
        aggregate declares its identity."""
        ...


CommandTypeT = TypeVar("CommandTypeT", bound="type[Command]")


class CommandRegistry:
    """Command type name <-> command class: how a node decodes a command sent as JSON.

    The wire carries ``command_type`` and the command's JSON fields, never an import path,
    so renaming a class changes only the registry (the same rule as ``EventRegistry``).
    """

    def __init__(self, command_types: Iterable[type[Command]] = ()) -> None:
        self._table: TypeNames[type[Command]] = TypeNames(
            "command_type", "command class", InvalidCommandClassError, DuplicateCommandTypeError)
        self._types = self._table.classes
        for command_type in command_types:
            self.register(command_type)

    def register(self, command_class: CommandTypeT) -> CommandTypeT:
        """Register a command class under its ``command_type``; usable as a decorator."""
        self._table.register(command_class)
        return command_class

    def __contains__(self, command_type: object) -> bool:
        return command_type in self._types

    @property
    def command_types(self) -> list[str]:
        return self._table.names()

    def encode(self, command: Command) -> dict[str, Any]:
        """``{"command_type": ..., "data": {...}}``, JSON-ready; the type must be registered."""
        registered = self._types.get(command.command_type)
        if registered is not type(command):
            raise UnknownCommandTypeError(command.command_type, list(self._types))
        return {"command_type": command.command_type, "data": command.model_dump(mode="json")}

    def decode(self, command_type: object, data: object) -> Command:
        """The typed command, or InvalidCommandError saying what does not fit."""
        if not isinstance(command_type, str):
            raise InvalidCommandError(
                f"a command needs a command_type string, got {type(command_type).__name__}")
        command_class = self._types.get(command_type)
        if command_class is None:
            raise UnknownCommandTypeError(command_type, list(self._types))
        try:
            return command_class.model_validate(data)
        except ValidationError as exc:
            raise InvalidCommandError(
                f"the data of a {command_type} command does not fit its fields: "
                f"{exc.errors(include_url=False)}"[:2000]
            ) from None


class SenderBase(ABC):
    """A CommandSender from its ``send`` alone: ``dispatch`` and ``send_command`` are the same
    for every sender (CommandRouter, the cluster router, wrappers), so they live here once."""

    @abstractmethod
    async def send(self, actor_id: str, command: Command,
                   metadata: Mapping[str, str] | None = None) -> list[Event]: ...

    async def dispatch(self, dispatch: Dispatch[Command],
                       metadata: Mapping[str, str] | None = None) -> list[Event]:
        return await self.send(dispatch.aggregate_id, dispatch.command, metadata)

    async def send_command(self, command: Command,
                           metadata: Mapping[str, str] | None = None) -> list[Event]:
        return await self.send(command.target_actor_id(), command, metadata)


def command_metadata(actor_id: str, command: Command,
                     metadata: Mapping[str, str] | None) -> dict[str, str]:
    """What every sender does first: check that ``command`` is for ``actor_id``
    (MisaddressedCommandError), and return a copy of ``metadata`` that carries a command id
    (the caller's, checked, or a new one) and the command's type (``COMMAND_TYPE``, stored on
    its events beside the id)."""
    _check_addressed(actor_id, command)
    if metadata is None:  # the usual case
        return {COMMAND_ID: new_command_id(), COMMAND_TYPE: command.command_type}
    if not isinstance(metadata, Mapping) or not all(
            isinstance(key, str) and isinstance(value, str) for key, value in metadata.items()):
        raise InvalidCommandError(
            f"command metadata must be a mapping of text to text (it is stored on the "
            f"events), got {_shown(metadata)}")
    meta = dict(metadata)
    meta[COMMAND_TYPE] = command.command_type
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


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."
