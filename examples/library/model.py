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
                                "returned": "bool"})
loan.command("BorrowBook", actor="Member",
             fields={"member_id": "str", "isbn": "str", "due": "date"}, emits=["BookBorrowed"])
loan.command("ReturnBook", actor="Librarian", fields={"returned_on": "date"},
             emits=["BookReturned", "BookReturnedLate"],
             description="Late returns also record how many days late the book came back.")
loan.event("BookBorrowed", fields={"member_id": "str", "isbn": "str", "due": "date"})
loan.event("BookReturned", fields={"returned_on": "date"})
loan.event("BookReturnedLate", fields={"member_id": "str", "days_late": "int"})
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
lending.read_model("LoansByMember", from_=["BookBorrowed", "BookReturned"],
                   fields={"member_id": "str", "isbn": "str", "due": "date | None",
                           "returned": "bool"})
# One row for the whole library (`single=True`): the librarian's sheet of the day.
sheet = lending.read_model("DailySheet", single=True,
                           from_=["BookBorrowed", "BookReturned", "BookReturnedLate"],
                           fields={"on_loan": "int", "returned_late": "int", "days_late": "int"},
                           description="Books out now, and the late returns so far.")
sheet.scenario("a late return is counted with its days",
               given=[{"BookBorrowed": {"member_id": "m-1", "isbn": "978-0", "due": "2026-03-01"}},
                      {"BookBorrowed": {"member_id": "m-2", "isbn": "978-1", "due": "2026-03-01"}},
                      {"BookReturned": {"returned_on": "2026-03-04"}},
                      {"BookReturnedLate": {"member_id": "m-1", "days_late": 3}}],
               then=[{"on_loan": 1, "returned_late": 1, "days_late": 3}])
sheet.scenario("a quiet day", then=[{"on_loan": 0}])

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
fees.policy("ChargeLateReturns", on=["BookReturnedLate"], issues=["ChargeLateFee"],
            description="Fifty cents per day late, charged to the member's account.")
fees.read_model("Balances", from_=["LateFeeCharged", "FeesPaid"],
                fields={"balance": "decimal"})
fees.hot_spot("Do we cap late fees at the price of the book?", about="ChargeLateReturns")
