window.AETHER_CATALOG_INDEX = [
{
"context": "Lending",
"description": "",
"href": "actors/librarian.html",
"kind": "Actor",
"name": "Librarian",
"terms": ""
},
{
"context": "Lending",
"description": "",
"href": "actors/member.html",
"kind": "Actor",
"name": "Member",
"terms": ""
},
{
"context": "Lending",
"description": "One member borrowing one copy of a book.",
"href": "aggregates/loan.html",
"kind": "Aggregate",
"name": "Loan",
"terms": "member_id isbn due status returned overdue"
},
{
"context": "Fees",
"description": "",
"href": "aggregates/member-account.html",
"kind": "Aggregate",
"name": "MemberAccount",
"terms": "balance charges"
},
{
"context": "Lending",
"description": "",
"href": "commands/borrow-book.html",
"kind": "Command",
"name": "BorrowBook",
"terms": "member_id isbn due"
},
{
"context": "Fees",
"description": "",
"href": "commands/charge-late-fee.html",
"kind": "Command",
"name": "ChargeLateFee",
"terms": "member_id amount days_late"
},
{
"context": "Lending",
"description": "Issued by a policy when a day starts after the loan was due.",
"href": "commands/mark-loan-overdue.html",
"kind": "Command",
"name": "MarkLoanOverdue",
"terms": "day"
},
{
"context": "Fees",
"description": "",
"href": "commands/pay-fees.html",
"kind": "Command",
"name": "PayFees",
"terms": "member_id amount"
},
{
"context": "Lending",
"description": "Late returns also record how many days late the book came back.",
"href": "commands/return-book.html",
"kind": "Command",
"name": "ReturnBook",
"terms": "returned_on"
},
{
"context": "Fees",
"description": "What members owe.",
"href": "contexts/fees.html",
"kind": "Bounded context",
"name": "Fees",
"terms": ""
},
{
"context": "Lending",
"description": "Who has which book, until when.",
"href": "contexts/lending.html",
"kind": "Bounded context",
"name": "Lending",
"terms": ""
},
{
"context": "Lending",
"description": "",
"href": "events/book-borrowed.html",
"kind": "Event",
"name": "BookBorrowed",
"terms": "member_id isbn due"
},
{
"context": "Lending",
"description": "",
"href": "events/book-returned-late.html",
"kind": "Event",
"name": "BookReturnedLate",
"terms": "member_id days_late"
},
{
"context": "Lending",
"description": "",
"href": "events/book-returned.html",
"kind": "Event",
"name": "BookReturned",
"terms": "returned_on"
},
{
"context": "Lending",
"description": "",
"href": "events/day-started.html",
"kind": "Event",
"name": "DayStarted",
"terms": "day"
},
{
"context": "Fees",
"description": "",
"href": "events/fees-paid.html",
"kind": "Event",
"name": "FeesPaid",
"terms": "amount"
},
{
"context": "Fees",
"description": "",
"href": "events/late-fee-charged.html",
"kind": "Event",
"name": "LateFeeCharged",
"terms": "amount days_late"
},
{
"context": "Lending",
"description": "",
"href": "events/loan-overdue.html",
"kind": "Event",
"name": "LoanOverdue",
"terms": "day"
},
{
"context": "Lending",
"description": "Marks the start of each library day.",
"href": "external-systems/clock.html",
"kind": "External system",
"name": "Clock",
"terms": ""
},
{
"context": "Fees",
"description": "Fifty cents per day late, charged to the member's account.",
"href": "policies/charge-late-returns.html",
"kind": "Policy",
"name": "ChargeLateReturns",
"terms": ""
},
{
"context": "Lending",
"description": "At the start of each day, every loan due before it that is still out is marked overdue, once.",
"href": "policies/mark-overdue-loans.html",
"kind": "Policy",
"name": "MarkOverdueLoans",
"terms": ""
},
{
"context": "Fees",
"description": "",
"href": "read-models/balances.html",
"kind": "Read model",
"name": "Balances",
"terms": "balance"
},
{
"context": "Lending",
"description": "Open loans and when they are due: the day's todo list.",
"href": "read-models/daily-sheet.html",
"kind": "Read model",
"name": "DailySheet",
"terms": "due returned overdue"
},
{
"context": "Lending",
"description": "Books out now, and the late returns so far.",
"href": "read-models/lending-totals.html",
"kind": "Read model",
"name": "LendingTotals",
"terms": "on_loan returned_late days_late"
},
{
"context": "Lending",
"description": "",
"href": "read-models/loans-by-member.html",
"kind": "Read model",
"name": "LoansByMember",
"terms": "member_id isbn due returned"
},
{
"context": "Lending",
"description": "",
"href": "types/loan-status.html",
"kind": "Enum",
"name": "LoanStatus",
"terms": "on_loan returned"
}
];
