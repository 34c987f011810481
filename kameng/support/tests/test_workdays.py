from datetime import date, datetime

import pytest

from kameng.core.clock import SHANGHAI
from kameng.support.models import CalendarDay
from kameng.support.workdays import add_working_days, unknown_years

pytestmark = pytest.mark.django_db


def filed(y, m, d, h=15):
    return datetime(y, m, d, h, tzinfo=SHANGHAI)


def due_date(moment) -> date:
    return add_working_days(moment, 3).date()


def test_an_ordinary_week():
    assert due_date(filed(2026, 11, 23)) == date(2026, 11, 26)  # Mon → Thu


def test_a_weekend_is_skipped():
    assert due_date(filed(2026, 11, 26)) == date(2026, 12, 1)  # Thu → Fri, Mon, Tue


def test_national_day_and_the_make_up_working_saturday():
    # 2026: Oct 1–7 off (with Sep 25–27 before it); Saturday Oct 10 is a make-up working day (调休上班).
    assert due_date(filed(2026, 9, 30)) == date(2026, 10, 10)  # Oct 8, Oct 9, Sat Oct 10


def test_mid_autumn_days_off_before_national_day():
    assert due_date(filed(2026, 9, 24)) == date(2026, 9, 30)  # Sep 25–27 off: Sep 28, 29, 30


def test_spring_festival_with_its_make_up_saturday():
    # 2026: Saturday Feb 14 is a working day; Feb 15–23 off.
    assert due_date(filed(2026, 2, 13)) == date(2026, 2, 25)  # Sat Feb 14, Feb 24, Feb 25


def test_the_deadline_is_the_end_of_the_day():
    due = add_working_days(filed(2026, 11, 23, 9), 3)
    assert (due.hour, due.minute, due.second) == (23, 59, 59) and due.tzinfo is not None


def test_a_year_the_package_does_not_know_falls_back_to_weekdays_plus_the_admins_days():
    assert unknown_years(date(2099, 1, 1), date(2099, 12, 31)) == [2099]
    assert due_date(filed(2099, 1, 1)) == date(2099, 1, 6)  # Thu 2099-01-01 → Fri, Mon, Tue
    CalendarDay.objects.create(date=date(2099, 1, 2), is_workday=False, note="元旦")
    CalendarDay.objects.create(date=date(2099, 1, 4), is_workday=True, note="调休上班")
    assert due_date(filed(2099, 1, 1)) == date(2099, 1, 6)  # Sun 4 (work), Mon 5, Tue 6
    CalendarDay.objects.create(date=date(2099, 1, 5), is_workday=False, note="假")
    assert due_date(filed(2099, 1, 1)) == date(2099, 1, 7)
