from datetime import datetime

from kameng.core.clock import SHANGHAI
from kameng.membership.periods import add_months, period_bounds


def at(y, m, d, h=10):
    return datetime(y, m, d, h, tzinfo=SHANGHAI)


def test_jan_31_plus_one_month_is_last_day_of_february():
    assert add_months(at(2027, 1, 31), 1) == at(2027, 2, 28)
    assert add_months(at(2028, 1, 31), 1) == at(2028, 2, 29)


def test_periods_count_from_the_anchor_so_month_ends_come_back():
    anchor = at(2027, 1, 31)
    assert period_bounds(anchor_at=anchor, period="month", index=1) == (at(2027, 2, 28), at(2027, 3, 31))
    assert period_bounds(anchor_at=anchor, period="month", index=2) == (at(2027, 3, 31), at(2027, 4, 30))


def test_quarter_and_year_periods():
    anchor = at(2026, 11, 30)
    assert period_bounds(anchor_at=anchor, period="quarter", index=0)[1] == at(2027, 2, 28)
    assert period_bounds(anchor_at=anchor, period="year", index=0)[1] == at(2027, 11, 30)
