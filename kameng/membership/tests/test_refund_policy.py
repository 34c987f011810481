"""The refund formula (docs/rules.md#5-cancellation), case by case: each row can be recomputed by hand."""

from datetime import datetime, timedelta

import pytest

from kameng.core.clock import SHANGHAI
from kameng.membership.refunds import compute_quote


def at(y, m, d, h=10, minute=0):
    return datetime(y, m, d, h, minute, tzinfo=SHANGHAI)


START = at(2027, 3, 1)
# (name, period, paid, start, end, charged_at, now, savings_period, savings_since_charge, savings_total, penalty,
#  deduct, expected: (rule, refund, total, used, remaining, prorated, deducted, penalty))
CASES = [
    ("month day 1 after window", "month", 3000, START, at(2027, 4, 1), START, START + timedelta(hours=49),
     0, 0, 0, None, True, ("pro_rata", 2710, 31, 3, 28, 2710, 0, 0)),
    ("month first minute: full within 48 h", "month", 3000, START, at(2027, 4, 1), START, START + timedelta(minutes=1),
     0, 0, 0, None, True, ("full_within_window", 3000, 31, 1, 30, 3000, 0, 0)),
    ("48 h window just inside", "month", 3000, START, at(2027, 4, 1), START, START + timedelta(hours=48),
     0, 0, 0, None, True, ("full_within_window", 3000, 31, 3, 28, 3000, 0, 0)),
    ("48 h window just outside", "month", 3000, START, at(2027, 4, 1), START, START + timedelta(hours=48, seconds=1),
     0, 0, 0, None, True, ("pro_rata", 2710, 31, 3, 28, 2710, 0, 0)),
    ("inside window but a saving was used", "month", 3000, START, at(2027, 4, 1), START, START + timedelta(hours=2),
     300, 300, 300, None, True, ("pro_rata", 2603, 31, 1, 30, 2903, 300, 0)),
    ("month mid-period with savings", "month", 3000, START, at(2027, 4, 1), START, at(2027, 3, 16, 9),
     500, 500, 500, None, True, ("pro_rata", 1048, 31, 15, 16, 1548, 500, 0)),
    ("month last day", "month", 3000, START, at(2027, 4, 1), START, at(2027, 3, 31, 23),
     0, 0, 0, None, True, ("pro_rata", 0, 31, 31, 0, 0, 0, 0)),
    ("savings larger than prorated: never below 0", "month", 3000, START, at(2027, 4, 1), START, at(2027, 3, 20),
     2000, 2000, 2000, None, True, ("pro_rata", 0, 31, 20, 11, 1065, 2000, 0)),
    ("plan that does not deduct savings", "month", 3000, START, at(2027, 4, 1), START, at(2027, 3, 20),
     2000, 2000, 2000, None, False, ("pro_rata", 1065, 31, 20, 11, 1065, 0, 0)),
    ("Jan 31 start: 28-day February period", "month", 1500, at(2027, 1, 31), at(2027, 2, 28), at(2027, 1, 31),
     at(2027, 2, 10), 0, 0, 0, None, True, ("pro_rata", 911, 28, 11, 17, 911, 0, 0)),
    ("quarter day 1 after window", "quarter", 3900, START, at(2027, 6, 1), START, START + timedelta(days=2, hours=1),
     0, 0, 0, None, True, ("pro_rata", 3773, 92, 3, 89, 3773, 0, 0)),
    ("quarter mid-period", "quarter", 3900, START, at(2027, 6, 1), START, at(2027, 4, 15, 12),
     120, 120, 120, None, True, ("pro_rata", 1830, 92, 46, 46, 1950, 120, 0)),
    ("quarter last day", "quarter", 3900, START, at(2027, 6, 1), START, at(2027, 5, 31, 20),
     0, 0, 0, None, True, ("pro_rata", 0, 92, 92, 0, 0, 0, 0)),
    ("year mid-period (a leap year's 366 days)", "year", 12800, START, at(2028, 3, 1), START, at(2027, 9, 1, 11),
     1000, 1000, 1000, None, True, ("pro_rata", 5330, 366, 185, 181, 6330, 1000, 0)),
    ("half a fen rounds up: 1001 × 15 / 30 = 500.5", "month", 1001, at(2027, 4, 1), at(2027, 5, 1), at(2027, 4, 1),
     at(2027, 4, 15, 10), 0, 0, 0, None, True, ("pro_rata", 501, 30, 15, 15, 501, 0, 0)),
    ("year last day", "year", 12800, START, at(2028, 3, 1), START, at(2028, 2, 29, 22),
     0, 0, 0, None, True, ("pro_rata", 0, 366, 366, 0, 0, 0, 0)),
    ("lifetime within window, nothing used", "lifetime", 29800, START, None, START, START + timedelta(hours=47),
     0, 0, 0, None, True, ("full_within_window", 29800, 0, 0, 0, 29800, 0, 0)),
    ("lifetime after window, no penalty set: non-refundable", "lifetime", 29800, START, None, START,
     at(2027, 5, 1), 0, 0, 900, None, True, ("lifetime_no_refund", 0, 0, 0, 0, 0, 0, 29800)),
    ("lifetime after window with 30 % penalty", "lifetime", 29800, START, None, START, at(2027, 5, 1),
     0, 0, 900, 30, True, ("lifetime_penalty", 19960, 0, 0, 0, 29800, 900, 8940)),
    ("lifetime penalty and savings above the rest: 0", "lifetime", 29800, START, None, START, at(2027, 5, 1),
     0, 0, 25000, 30, True, ("lifetime_penalty", 0, 0, 0, 0, 29800, 25000, 8940)),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_refund_formula(case):
    (_, period, paid, start, end, charged, now, s_period, s_since, s_total, penalty, deduct, expected) = case
    quote = compute_quote(
        period=period,
        paid_fen=paid,
        period_start=start,
        period_end=end,
        charged_at=charged,
        now=now,
        window_hours=48,
        deduct_savings=deduct,
        savings_period_fen=s_period,
        savings_since_charge_fen=s_since,
        savings_total_fen=s_total,
        lifetime_penalty_percent=penalty,
    )
    got = (
        quote.rule,
        quote.refund_fen,
        quote.total_days,
        quote.used_days,
        quote.remaining_days,
        quote.prorated_fen,
        quote.deducted_fen,
        quote.penalty_fen,
    )
    assert got == expected
