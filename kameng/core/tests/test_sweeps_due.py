"""`sweeps.next_due_at`: the earliest moment a sweep has work, so the test clock can jump from one to the next."""

import math
from datetime import timedelta

import pytest

from kameng.core import clock, sweeps
from kameng.membership import schedule
from kameng.membership.models import Reminder
from kameng.support import services as support
from tests.factories import PlanFactory, UserFactory, join_vip, settle

pytestmark = pytest.mark.django_db


def advance_to(moment) -> None:
    clock.advance(seconds=max(0, math.ceil((moment - clock.now()).total_seconds())))


def test_nothing_scheduled_means_no_next_due_moment():
    assert sweeps.next_due_at() is None


def test_the_next_due_moment_of_a_renewing_member_is_the_first_reminder_and_nothing_happens_before_it():
    membership = join_vip(UserFactory(), PlanFactory(), auto_renew=True)
    settle()
    due = sweeps.next_due_at()
    # The 7-day reminder: 7 days before the planned date C, at the member's charge time (to the minute), not 7 × 24 h
    # before the period end (docs/rules.md#renewal-schedule).
    assert due == schedule.coming_cycle(membership).reminder_at(7)
    advance_to(due - timedelta(minutes=1))
    assert sweeps.run_due_sweeps()["membership_reminders"] == 0
    advance_to(due)
    assert sweeps.run_due_sweeps()["membership_reminders"] == 1
    assert Reminder.objects.get(membership=membership).days_before == 7


def test_a_member_without_auto_renew_is_next_due_at_the_period_end():
    membership = join_vip(UserFactory(), PlanFactory())
    settle()
    assert sweeps.next_due_at() == membership.current_period_end


def test_a_tickets_next_due_moment_is_just_past_its_deadline():
    ticket = support.file_ticket(user=UserFactory(), category="other", reason="我有个问题")
    settle()
    due = sweeps.next_due_at()
    assert ticket.due_at < due <= ticket.due_at + timedelta(milliseconds=1)
    advance_to(due)
    assert sweeps.run_due_sweeps()["support_sla"] == 1
