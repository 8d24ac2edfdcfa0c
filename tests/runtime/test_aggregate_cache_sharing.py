"""A cached aggregate holds nothing the caller of a command still owns.

pydantic passes an instance of a model class through validation as it is, so an event
payload built from a command's value object (``LineAdded(line=command.line)``) holds the
caller's object, and so does the state ``apply`` builds from it. An uncached Repository
drops that state after the command; a cached one keeps it for the next, where a change
the caller makes to its own object afterwards (a value object's list is mutable even when
the model is frozen) would show up as state no event produced.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from aether import (
    AggregateRoot,
    CommandRouter,
    DomainError,
    EventPayload,
    EventRegistry,
    Repository,
    kit,
)
from aether.aggregate_cache import may_share
from aether.command import Command
from aether.store import InMemoryEventStore
from tests.runtime.accounts import AccountState


class Line(BaseModel):
    model_config = ConfigDict(frozen=True)
    sku: str
    tags: list[str]


class LineAdded(EventPayload):
    event_type: ClassVar[str] = "LineAdded"
    line: Line


class CartState(BaseModel):
    model_config = ConfigDict(frozen=True)
    lines: list[Line] = []


class AddLine(Command):
    command_type: ClassVar[str] = "AddLine"
    line: Line


class Cart(AggregateRoot[CartState]):
    @classmethod
    def initial_state(cls) -> CartState:
        return CartState()

    def add(self, line: Line) -> None:
        if any(tag in known.tags for known in self.state.lines for tag in line.tags):
            raise DomainError(f"a line tagged {line.tags} is in the cart already")
        self.record(LineAdded(line=line))

    def apply(self, event: EventPayload) -> None:
        assert isinstance(event, LineAdded)
        self.state = kit.evolve(self.state, lines=[*self.state.lines, event.line])


def cart_router(store: InMemoryEventStore, cache_size: int
                ) -> tuple[CommandRouter, Repository[Cart]]:
    repository = Repository(store, Cart, EventRegistry([LineAdded]), cache_size=cache_size)
    router = CommandRouter()
    router.route(AddLine, repository, lambda cart, command: cart.add(command.line))
    return router, repository


async def test_a_value_object_the_caller_changes_after_sending_does_not_change_the_state() -> None:
    store = InMemoryEventStore()
    cached, cached_repository = cart_router(store, cache_size=100)
    _, uncached_repository = cart_router(store, cache_size=0)

    line = Line(sku="tea", tags=["a"])
    await cached.send("cart-1", AddLine(line=line))
    line.tags.append("b")  # the caller reuses its object for the next line

    # Both repositories give the fold of the stored events, and the cached router decides
    # on it: no stored line is tagged "b".
    assert (await cached_repository.load("cart-1")).state == CartState(
        lines=[Line(sku="tea", tags=["a"])])
    assert (await uncached_repository.load("cart-1")).state == CartState(
        lines=[Line(sku="tea", tags=["a"])])
    added = await cached.send("cart-1", AddLine(line=Line(sku="cup", tags=["b"])))
    assert [event.version for event in added] == [2]


class Tagged(EventPayload):
    event_type: ClassVar[str] = "Tagged"
    lines: list[Line] | None = None


class Counted(EventPayload):
    event_type: ClassVar[str] = "Counted"
    names: dict[str, list[tuple[int, str]]]
    note: str | None = None


def test_payloads_holding_model_instances_are_refolded_and_plain_values_are_not() -> None:
    # A value object anywhere inside (a list of them, optional) may be the sender's; lists,
    # dicts and tuples of plain values are built anew by validation.
    assert may_share(LineAdded) and may_share(Tagged)
    assert not may_share(Counted)
    names = [(1, "a")]
    assert Counted(names={"n": names}).names["n"] is not names


def test_a_state_of_plain_values_cannot_hold_the_senders_objects() -> None:
    assert may_share(CartState)
    assert not may_share(AccountState)
