"""AggregateCache: the Repository's bounded memory of the aggregates it used last.

Loading an aggregate from the store means reading its history (since the last snapshot),
decoding every event into its typed payload and replaying it. A Repository that keeps,
per actor, the version it last saw, the state at that version and the command ids it
remembers can skip all of that when nothing was written since: one ``get_latest_version``
(O(1) in memory, one direct get of the last message on JetStream) says whether the entry
is still the actor's latest, and only events after it are read when it is not.

An entry is only ever a starting point, never an answer: Repository.load checks it against
the store every time, so decisions are as fresh as a full read, with other writers (other
processes, other routers) in the picture. What an entry must guarantee is that its state
is the fold of the actor's events up to its version. That holds because states are
immutable (``kit.evolve`` builds new ones; a hand-written ``apply`` must do the same: state
changes only through events), so the entry holds the state object itself, never an
aggregate. Its command ids are a dict shared with the aggregates resumed from it, which add
to it in place, but only what the store holds: the ids of events a save got stored, or a
load replayed. An aggregate that resumed from an older entry may so see the id of a
command saved after its version: asked for that command again, it finds the command's
events in the store and answers with them, as a fresh load would (Repository.recorded).
No command is copied per command: a hot actor remembering 1,000 commands pays nothing for
them.
"""

from __future__ import annotations

import enum
import types
from collections import OrderedDict
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal, NamedTuple, Union, get_args, get_origin
from uuid import UUID

from pydantic import BaseModel

__all__ = ["AggregateCache", "CachedAggregate", "may_share"]

# Values pydantic's validation gives back that no one can change in place.
_IMMUTABLE = (str, int, float, bool, bytes, Decimal, date, datetime, time, timedelta, UUID,
              type(None), enum.Enum)
# Containers pydantic's validation builds anew (their items are what may be shared).
_REBUILT = (list, tuple, dict, set, frozenset)
_sharing: dict[type[BaseModel], bool] = {}


class CachedAggregate(NamedTuple):
    """An actor as of ``version``: its state and remembered command ids (read-only), and
    the id of its event at ``version`` when known (None: started from a snapshot, or no
    event yet), which says whether a longer history still continues this one."""

    version: int
    state: Any
    commands: dict[str, tuple[int, int]]
    last_id: str | None = None


class AggregateCache:
    """A least-recently-used map of actor id -> CachedAggregate, at most ``size`` entries
    (0: keeps nothing)."""

    def __init__(self, size: int) -> None:
        if size < 0:
            raise ValueError(f"an aggregate cache holds >= 0 entries, got {size}")
        self.size = size
        self._entries: OrderedDict[str, CachedAggregate] = OrderedDict()

    def get(self, actor_id: str) -> CachedAggregate | None:
        entry = self._entries.get(actor_id)
        if entry is not None:
            self._entries.move_to_end(actor_id)
        return entry

    def put(self, actor_id: str, entry: CachedAggregate) -> None:
        """Keep ``entry`` as the most recently used, unless a later version is kept already
        (two commands of one actor finishing out of order), evicting the least recently
        used entry beyond ``size``."""
        if not self.size:
            return
        entries = self._entries
        current = entries.get(actor_id)
        if current is None:  # a new key goes last
            entries[actor_id] = entry
            if len(entries) > self.size:
                entries.popitem(last=False)
            return
        entries.move_to_end(actor_id)
        if current.version <= entry.version:
            entries[actor_id] = entry

    def forget(self, actor_id: str) -> None:
        self._entries.pop(actor_id, None)

    def clear(self) -> None:
        self._entries.clear()

    def actor_ids(self) -> list[str]:
        """The cached actors, least recently used first."""
        return list(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, actor_id: object) -> bool:
        return actor_id in self._entries


def may_share(payload_type: type[BaseModel]) -> bool:
    """Whether an instance of ``payload_type`` (an event payload or a state) may hold an
    object its builder still owns.

    pydantic's validation builds new lists and dicts but passes an instance of a model
    class (or an ``Any`` value) through as it is, so ``LineAdded(line=command.line)``
    holds the command's value object, mutable in its lists. A state that can hold one,
    built from such a payload, must not be cached (Repository.save refolds it from the
    stored events). Unknown annotations count as sharing.
    """
    try:
        return _sharing[payload_type]
    except KeyError:
        shares = _sharing[payload_type] = any(
            _shares(field.annotation) for field in payload_type.model_fields.values())
        return shares


def _shares(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin is Literal:
        return False
    if origin is Annotated:
        return _shares(get_args(annotation)[0])
    if origin in (Union, types.UnionType) or origin in _REBUILT:
        return any(_shares(arg) for arg in get_args(annotation) if arg is not Ellipsis)
    return not (isinstance(annotation, type) and issubclass(annotation, _IMMUTABLE))
