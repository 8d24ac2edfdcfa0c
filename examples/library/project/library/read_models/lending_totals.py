"""The LendingTotals read model: a view kept up to date from events.

aether-gen created this file once and never overwrites it.
``self.row`` is the view's one row, which current() and all() return.
Keep it, or store the view wherever your queries need it (and override the queries of
the base class too).
"""

import typing

from aether import kit

from ..bases import LendingTotalsBase
from ..events import BookBorrowed, BookReturned, BookReturnedLate


# final: mypy then reports a missing method here, at the class, not where it is used.
@typing.final
class LendingTotals(LendingTotalsBase):
    def on_book_borrowed(self, event: BookBorrowed, envelope: kit.Event) -> None:
        self.row = self.row.evolve(on_loan=self.row.on_loan + 1)

    def on_book_returned(self, event: BookReturned, envelope: kit.Event) -> None:
        self.row = self.row.evolve(on_loan=self.row.on_loan - 1)

    def on_book_returned_late(self, event: BookReturnedLate, envelope: kit.Event) -> None:
        self.row = self.row.evolve(returned_late=self.row.returned_late + 1,
                                   days_late=self.row.days_late + event.days_late)
