"""The Loan aggregate: your decisions and state changes.

aether-gen created this file once and never overwrites it. Each handler checks the
state and records events (or raises DomainError); each apply method returns the
state after its event, and must not fail for a stored event.
"""

import typing

from aether.kit import DomainError

from ..bases import LoanBase, LoanState
from ..commands import BorrowBook, MarkLoanOverdue, ReturnBook
from ..events import BookBorrowed, BookReturned, BookReturnedLate, LoanOverdue
from ..types import LoanStatus


# final: mypy then reports a missing method here, at the class, not where it is used.
@typing.final
class Loan(LoanBase):
    def handle_borrow_book(self, command: BorrowBook) -> None:
        if self.version > 0:
            raise DomainError(f"loan {self.id} already exists; open a new loan")
        self.record(BookBorrowed(member_id=command.member_id, isbn=command.isbn, due=command.due))

    def handle_return_book(self, command: ReturnBook) -> None:
        if self.state.status is LoanStatus.RETURNED:
            raise DomainError(f"loan {self.id} was already returned")
        if self.state.due is None:
            raise DomainError(f"loan {self.id} has no book on loan")
        self.record(BookReturned(returned_on=command.returned_on))
        days_late = (command.returned_on - self.state.due).days
        if days_late > 0:
            self.record(BookReturnedLate(member_id=self.state.member_id, days_late=days_late))

    def handle_mark_loan_overdue(self, command: MarkLoanOverdue) -> None:
        if self.state.status is LoanStatus.RETURNED:
            raise DomainError(f"loan {self.id} was already returned")
        if self.state.overdue:
            raise DomainError(f"loan {self.id} is already overdue")
        self.record(LoanOverdue(day=command.day))

    def apply_book_borrowed(self, event: BookBorrowed) -> LoanState:
        return self.state.evolve(member_id=event.member_id, isbn=event.isbn, due=event.due)

    def apply_book_returned(self, event: BookReturned) -> LoanState:
        return self.state.evolve(status=LoanStatus.RETURNED, returned=True)

    def apply_book_returned_late(self, event: BookReturnedLate) -> LoanState:
        return self.state

    def apply_loan_overdue(self, event: LoanOverdue) -> LoanState:
        return self.state.evolve(overdue=True)
