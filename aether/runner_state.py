"""What a reaction runner keeps track of: its handlers (name, event types, position, the
position last checkpointed), its counters and the refusals its policies met."""

from __future__ import annotations

from dataclasses import dataclass

from aether.feed import FeedArgumentError, normal_types
from aether.reactions import Outcome, Policy, ReadModel


@dataclass
class RunnerCounters:
    processed: int = 0
    """Events the runner went through (whether or not a handler wanted them)."""
    retried: int = 0
    parked: int = 0
    rejected: int = 0
    """Policy commands an aggregate refused with a DomainError."""
    undecodable: int = 0
    """Records in the feed that were not events (parked, counted in ``parked`` too)."""
    outages: int = 0
    """Times the runner paused on a TransientError (store down, no owner, a timeout)."""


@dataclass(frozen=True)
class Rejection:
    position: int
    policy: str
    outcome: Outcome


@dataclass(eq=False)
class Handler:
    target: Policy | ReadModel
    checkpointed: bool
    types: frozenset[str]
    saved: int = 0

    @property
    def name(self) -> str:
        return self.target.name

    @property
    def position(self) -> int:
        return self.target.position

    @position.setter
    def position(self, value: int) -> None:
        # In-process positions live on the handler object, beside the state they describe.
        self.target.position = value


def handler_types(target: Policy | ReadModel, names: object) -> frozenset[str]:
    """The event types a handler declares (``reacts_to`` / ``reads``), or FeedArgumentError:
    a bare string there would become the set of its characters and match nothing, so the
    handler would silently never run."""
    try:
        types = normal_types(names)  # type: ignore[arg-type]
    except FeedArgumentError as exc:
        raise FeedArgumentError(f"{target.name}: {exc}") from None
    return types or frozenset()
