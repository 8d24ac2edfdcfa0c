"""Commands: typed requests to change one aggregate, and where to send them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict


class Command(BaseModel):
    """Base of every typed command (generated code subclasses it)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    command_type: ClassVar[str]


CommandT = TypeVar("CommandT", bound=Command, covariant=True)


@dataclass(frozen=True)
class Dispatch(Generic[CommandT]):
    """A command addressed to one aggregate: what policies return."""

    aggregate_id: str
    command: CommandT
