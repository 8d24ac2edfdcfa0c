"""The LoansByMember read model: a view kept up to date from events.

aether-gen created this file once and never overwrites it. ``self.rows`` maps an
actor id to its row; keep it, or store the view wherever your queries need it.
"""

import typing

from aether.kit import Event

from ..bases import LoansByMemberBase, LoansByMemberRow
from ..events import BookBorrowed, BookReturned


# final: mypy then reports a missing method here, at the class, not where it is used.
@typing.final
class LoansByMember(LoansByMemberBase):
    def on_book_borrowed(self, event: BookBorrowed, envelope: Event) -> None:
        row = self.rows.get(envelope.actor_id, LoansByMemberRow())
        self.rows[envelope.actor_id] = row.evolve(
            member_id=event.member_id, isbn=event.isbn, due=event.due)

    def on_book_returned(self, event: BookReturned, envelope: Event) -> None:
        row = self.rows.get(envelope.actor_id, LoansByMemberRow())
        self.rows[envelope.actor_id] = row.evolve(returned=True)
