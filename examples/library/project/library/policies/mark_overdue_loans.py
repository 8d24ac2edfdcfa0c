"""The MarkOverdueLoans policy: which commands an event leads to.

aether-gen created this file once and never overwrites it.
"""

import collections.abc
import typing

from aether import kit

from ..bases import MarkOverdueLoansBase
from ..commands import MarkLoanOverdue
from ..events import DayStarted


# final: mypy then reports a missing method here, at the class, not where it is used.
@typing.final
class MarkOverdueLoans(MarkOverdueLoansBase):
    def on_day_started(
        self, event: DayStarted, envelope: kit.Event
    ) -> collections.abc.Sequence[kit.Dispatch[MarkLoanOverdue]]:
        # The daily sheet has read every event up to this one: loans returned or marked
        # overdue before the day started are not on it. Loans have no id field, so the
        # command goes to the actor id the sheet keeps.
        command = MarkLoanOverdue(day=event.day)
        return [kit.Dispatch(loan, command) for loan in self.daily_sheet.due_before(event.day)]
