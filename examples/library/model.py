"""Library lending, modeled in Python: members borrow books, late returns cost a fee.

    aether-gen validate examples/library/model.py
"""

from modeling import ModelBuilder, field

model = ModelBuilder("library", version=1,
                     description="A lending library: loans, returns and late fees.")

lending = model.context("Lending", description="Who has which book, until when.")
lending.actor("Member")
lending.actor("Librarian")
lending.enum("LoanStatus", ["on_loan", "returned"])
loan = lending.aggregate("Loan", description="One member borrowing one copy of a book.",
                         state={"member_id": "str", "isbn": "str", "due": "date | None",
                                "status": field("LoanStatus", default="on_loan"),
                                "returned": "bool", "overdue": "bool"})
loan.command("BorrowBook", actor="Member",
             fields={"member_id": "str", "isbn": "str", "due": "date"}, emits=["BookBorrowed"])
loan.command("ReturnBook", actor="Librarian", fields={"returned_on": "date"},
             emits=["BookReturned", "BookReturnedLate"],
             description="Late returns also record how many days late the book came back.")
loan.event("BookBorrowed", fields={"member_id": "str", "isbn": "str", "due": "date"})
loan.event("BookReturned", fields={"returned_on": "date"})
loan.event("BookReturnedLate", fields={"member_id": "str", "days_late": "int"})
loan.command("MarkLoanOverdue", fields={"day": "date"}, emits=["LoanOverdue"],
             description="Issued by a policy when a day starts after the loan was due.")
loan.event("LoanOverdue", fields={"day": "date"})
loan.scenario("borrowing a book",
              when={"BorrowBook": {"member_id": "m-1", "isbn": "978-0", "due": "2026-03-01"}},
              then=[{"BookBorrowed": {"member_id": "m-1", "isbn": "978-0",
                                      "due": "2026-03-01"}}])
loan.scenario("returning on time",
              given=[{"BookBorrowed": {"member_id": "m-1", "isbn": "978-0",
                                       "due": "2026-03-01"}}],
              when={"ReturnBook": {"returned_on": "2026-02-27"}},
              then=[{"BookReturned": {"returned_on": "2026-02-27"}}])
loan.scenario("returning three days late",
              given=[{"BookBorrowed": {"member_id": "m-1", "isbn": "978-0",
                                       "due": "2026-03-01"}}],
              when={"ReturnBook": {"returned_on": "2026-03-04"}},
              then=[{"BookReturned": {"returned_on": "2026-03-04"}},
                    {"BookReturnedLate": {"member_id": "m-1", "days_late": 3}}])
loan.scenario("a book cannot be returned twice",
              given=[{"BookBorrowed": {"member_id": "m-1", "isbn": "978-0",
                                       "due": "2026-03-01"}},
                     {"BookReturned": {"returned_on": "2026-02-27"}}],
              when={"ReturnBook": {"returned_on": "2026-02-28"}},
              error="already returned")
loan.scenario("a loan is marked overdue once",
              given=[{"BookBorrowed": {"member_id": "m-1", "isbn": "978-0",
                                       "due": "2026-03-01"}},
                     {"LoanOverdue": {"day": "2026-03-02"}}],
              when={"MarkLoanOverdue": {"day": "2026-03-03"}}, error="already overdue")
lending.read_model("LoansByMember", from_=["BookBorrowed", "BookReturned"],
                   fields={"member_id": "str", "isbn": "str", "due": "date | None",
                           "returned": "bool"})
# The start of each day comes from outside: the clock is an external system, and what
# happens then is a policy that reads the daily sheet (Event Modeling's automation with
# its todo list).
lending.event("DayStarted", fields={"day": "date"})
lending.external_system("Clock", emits=["DayStarted"],
                        description="Marks the start of each library day.")
lending.read_model("DailySheet", from_=["BookBorrowed", "BookReturned", "LoanOverdue"],
                   fields={"due": "date | None", "returned": "bool", "overdue": "bool"},
                   description="Open loans and when they are due: the day's todo list.")
overdue = lending.policy("MarkOverdueLoans", on=["DayStarted"], issues=["MarkLoanOverdue"],
                         reads=["DailySheet"],
                         description="At the start of each day, every loan due before it "
                                     "that is still out is marked overdue, once.")
overdue.scenario("a loan due yesterday is marked overdue",
                 given=[{"BookBorrowed": {"member_id": "m-1", "isbn": "978-0",
                                          "due": "2026-03-01"}, "actor": "loan-1"},
                        {"BookBorrowed": {"member_id": "m-2", "isbn": "978-1",
                                          "due": "2026-03-09"}, "actor": "loan-2"}],
                 when={"DayStarted": {"day": "2026-03-02"}},
                 then=[{"MarkLoanOverdue": {"day": "2026-03-02"}, "to": "loan-1"}])
overdue.scenario("returned and already overdue loans are left alone",
                 given=[{"BookBorrowed": {"member_id": "m-1", "isbn": "978-0",
                                          "due": "2026-03-01"}, "actor": "loan-1"},
                        {"BookReturned": {"returned_on": "2026-03-01"}, "actor": "loan-1"},
                        {"BookBorrowed": {"member_id": "m-2", "isbn": "978-1",
                                          "due": "2026-02-20"}, "actor": "loan-2"},
                        {"LoanOverdue": {"day": "2026-02-21"}, "actor": "loan-2"}],
                 when={"DayStarted": {"day": "2026-03-02"}},
                 then=[])
# One row for the whole library (`single=True`): the librarian's running totals.
totals = lending.read_model("LendingTotals", single=True,
                            from_=["BookBorrowed", "BookReturned", "BookReturnedLate"],
                            fields={"on_loan": "int", "returned_late": "int", "days_late": "int"},
                            description="Books out now, and the late returns so far.")
totals.scenario("a late return is counted with its days",
                given=[{"BookBorrowed": {"member_id": "m-1", "isbn": "978-0", "due": "2026-03-01"}},
                       {"BookBorrowed": {"member_id": "m-2", "isbn": "978-1", "due": "2026-03-01"}},
                       {"BookReturned": {"returned_on": "2026-03-04"}},
                       {"BookReturnedLate": {"member_id": "m-1", "days_late": 3}}],
                then=[{"on_loan": 1, "returned_late": 1, "days_late": 3}])
totals.scenario("a quiet day", then=[{"on_loan": 0}])

fees = model.context("Fees", description="What members owe.")
# Accounts are keyed by member: actor ids "account-<member_id>" (id_prefix overrides the
# default prefix, "member_account").
account = fees.aggregate("MemberAccount", id="member_id", id_prefix="account",
                         state={"balance": "decimal", "charges": "int"})
account.command("ChargeLateFee",
                fields={"member_id": "str", "amount": "decimal", "days_late": "int"},
                emits=["LateFeeCharged"])
account.command("PayFees", actor="Member", fields={"member_id": "str", "amount": "decimal"},
                emits=["FeesPaid"])
account.event("LateFeeCharged", fields={"amount": "decimal", "days_late": "int"})
account.event("FeesPaid", fields={"amount": "decimal"})
account.scenario("paying more than owed is refused",
                 given=[{"LateFeeCharged": {"amount": "1.50", "days_late": 3}}],
                 when={"PayFees": {"member_id": "m-1", "amount": "2.00"}}, error="owes only 1.50")
charge = fees.policy("ChargeLateReturns", on=["BookReturnedLate"], issues=["ChargeLateFee"],
                     description="Fifty cents per day late, charged to the member's account.")
charge.scenario("three days late cost 1.50",
                when={"BookReturnedLate": {"member_id": "m-1", "days_late": 3}},
                then=[{"ChargeLateFee": {"member_id": "m-1", "amount": "1.50",
                                         "days_late": 3}}])
fees.read_model("Balances", from_=["LateFeeCharged", "FeesPaid"],
                fields={"balance": "decimal"})
fees.hot_spot("Do we cap late fees at the price of the book?", about="ChargeLateReturns")

# Fees reacts to Lending's events as Lending writes them (Context Mapper's conformist).
model.relationship(upstream="Lending", downstream="Fees", downstream_roles=["conformist"])
