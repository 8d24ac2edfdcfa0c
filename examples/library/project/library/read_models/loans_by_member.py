"""The LoansByMember read model: a view kept up to date from events.

aether-gen created this file once and never overwrites it. ``self.rows`` maps an
actor id to its row; keep it, or store the view wherever your queries need it.
"""

from aether.kit import Event

from ..bases import LoansByMemberBase, LoansByMemberRow
from ..events import BookBorrowed, BookReturned


class LoansByMember(LoansByMemberBase):
    def on_book_borrowed(self, event: BookBorrowed, envelope: Event) -> None:
        row = self.rows.get(envelope.actor_id, LoansByMemberRow())
        self.rows[envelope.actor_id] = row.model_copy(update={
            'member_id': event.member_id,
            'isbn': event.isbn,
            'due': event.due,
        })

    def on_book_returned(self, event: BookReturned, envelope: Event) -> None:
        row = self.rows.get(envelope.actor_id, LoansByMemberRow())
        self.rows[envelope.actor_id] = row.model_copy(update={'returned': True})
