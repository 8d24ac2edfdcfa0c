"""The DailySheet read model: the loans still out, by loan actor id, and when each is
due; what MarkOverdueLoans goes through at the start of each day.

aether-gen created this file once and never overwrites it.
"""

import datetime
import typing

from aether import kit

from ..bases import DailySheetBase, DailySheetRow
from ..events import BookBorrowed, BookReturned, LoanOverdue


# final: mypy then reports a missing method here, at the class, not where it is used.
@typing.final
class DailySheet(DailySheetBase):
    def on_book_borrowed(self, event: BookBorrowed, envelope: kit.Event) -> None:
        row = self.rows.get(envelope.actor_id, DailySheetRow())
        self.rows[envelope.actor_id] = row.evolve(due=event.due)

    def on_book_returned(self, event: BookReturned, envelope: kit.Event) -> None:
        row = self.rows.get(envelope.actor_id, DailySheetRow())
        self.rows[envelope.actor_id] = row.evolve(returned=True)

    def on_loan_overdue(self, event: LoanOverdue, envelope: kit.Event) -> None:
        row = self.rows.get(envelope.actor_id, DailySheetRow())
        self.rows[envelope.actor_id] = row.evolve(overdue=True)

    def due_before(self, day: datetime.date) -> list[str]:
        """Loans (actor ids) still out, not yet marked overdue, due before ``day``."""
        return [actor_id for actor_id, row in self.rows.items()
                if row.due is not None and row.due < day and not row.returned
                and not row.overdue]
