"""Type name <-> class tables, the part event and command registries share.

What crosses a store or a wire names its type (``OrderPlaced``, ``PlaceOrder``), never a Python
import path, so renaming or moving a class changes only the table.
"""

from __future__ import annotations

from typing import Generic, TypeVar

ClassT = TypeVar("ClassT", bound=type)


class TypeNames(Generic[ClassT]):
    """Classes by the name each declares in ``attribute`` (``event_type``, ``command_type``);
    a class without the name raises ``missing``, a second class under one name ``duplicate``."""

    def __init__(self, attribute: str, noun: str, missing: type[Exception],
                 duplicate: type[Exception]) -> None:
        self.classes: dict[str, ClassT] = {}
        self._attribute = attribute
        self._noun = noun
        self._missing = missing
        self._duplicate = duplicate

    def register(self, cls: ClassT) -> ClassT:
        name = getattr(cls, self._attribute, None)
        if not isinstance(name, str) or not name:
            raise self._missing(
                f"{cls.__name__} has no {self._attribute}: declare "
                f"`{self._attribute}: ClassVar[str] = \"{cls.__name__}\"` on the class"
            )
        existing = self.classes.get(name)
        if existing is not None and existing is not cls:
            kind = self._attribute.replace("_", " ")
            raise self._duplicate(
                f"{kind} {name!r} is already registered to {existing.__qualname__}; "
                f"each {kind} maps to exactly one {self._noun}"
            )
        self.classes[name] = cls
        return cls

    def names(self) -> list[str]:
        return sorted(self.classes)
