"""A plan's reminder days count before the renewal's planned date C; the first at least 7 (5 days before the
first attempt on C-2, docs/rules.md#renewal-schedule)."""

import pytest
from django.core.exceptions import ValidationError

from kameng.membership.models import MIN_FIRST_REMINDER_DAYS_BEFORE_C, Plan

pytestmark = pytest.mark.django_db


def plan(**fields) -> Plan:
    return Plan(**{"code": "p", "name": "P", "period": "month", "price_fen": 1000, **fields})


def test_the_floor_is_5_days_before_the_first_attempt_so_7_days_before_c():
    assert MIN_FIRST_REMINDER_DAYS_BEFORE_C == 7


@pytest.mark.parametrize("days", ["6,3", "5", "6"])
def test_the_admin_refuses_a_first_reminder_later_than_7_days_before_c(days):
    with pytest.raises(ValidationError) as refused:
        plan(reminder_days=days).full_clean()
    assert "reminder_days" in refused.value.message_dict


@pytest.mark.parametrize("days", ["7,3", "30,7,3", "10"])
def test_a_first_reminder_7_or_more_days_before_c_is_accepted(days):
    plan(reminder_days=days).full_clean()


def test_the_default_schedules_keep_the_floor():
    assert plan().reminder_schedule() == [7, 3]
    assert plan(period="year").reminder_schedule() == [30, 7, 3]


def test_a_list_saved_before_the_floor_gets_a_reminder_on_c_minus_7_added():
    assert plan(reminder_days="5,3").reminder_schedule() == [7, 5, 3]
