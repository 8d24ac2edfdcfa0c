"""What a reaction runner keeps track of: its handlers (name, event types, position, the
position last checkpointed), its counters and the refusals its policies met."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aether.checkpoints import UNDECODABLE, check_name
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
    takeovers: int = 0
    """Times an exclusive runner took its lease and became the active one."""
    leases_lost: int = 0
    """Times an exclusive runner lost its lease while started, and became a standby."""


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


def runner_handlers(read_models: Sequence[ReadModel], policies: Sequence[Policy],
                    checkpoints: bool) -> list[Handler]:
    """A runner's handlers: read models first, then policies, in the order given; the
    policies and the ``durable`` read models are checkpointed when the runner has a
    checkpoint store (``checkpoints``). ValueError for names checkpoints cannot be kept by."""
    handlers = [
        *(Handler(rm, checkpoints and rm.durable, handler_types(rm, rm.reads))
          for rm in read_models),
        *(Handler(policy, checkpoints, handler_types(policy, policy.reacts_to))
          for policy in policies),
    ]
    names = [handler.name for handler in handlers]
    for handler_name in names:
        check_name("handler name", handler_name)
    if UNDECODABLE in names:
        raise ValueError(f"{UNDECODABLE!r} is reserved for records the feed cannot decode: "
                         f"give the handler another name")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"handler names must be unique within a runner (checkpoints are "
                         f"kept by name); repeated: {', '.join(duplicates)}")
    return handlers
