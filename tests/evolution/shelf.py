"""A small model with every kind of thing a change can touch, for the evolution tests."""

from __future__ import annotations

SHELF = """\
model: shelf
version: 1
contexts:
  - name: Lending
    actors: [Patron]
    enums:
      - name: HoldKind
        values: [normal, priority]
    value_objects:
      - name: Period
        fields: {days: int}
    aggregates:
      - name: Book
        state: {held: bool}
        commands:
          - name: PlaceHold
            actor: Patron
            fields: {patron: str}
            emits: [BookPlacedOnHold]
          - name: ReturnBook
            actor: Patron
            fields: {patron: str}
            emits: [BookReturned]
        events:
          - name: BookPlacedOnHold
            description: A patron placed a hold.
            fields:
              patron: str
              hold_till: date
              kind: HoldKind
              period: Period
          - name: BookReturned
            fields: {patron: str, late: bool}
"""


def changed(*edits: tuple[str, str]) -> str:
    """SHELF with each (old, new) replacement made exactly once."""
    return edited(SHELF, *edits)


def edited(text: str, *edits: tuple[str, str]) -> str:
    """``text`` with each (old, new) replacement made exactly once."""
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text
