"""Renewals, reminders and expiry, played on the sandbox test clock through the real channel protocols."""

from datetime import datetime, timedelta

import pytest

from kameng.core import clock
from kameng.core.models import AuditLog
from kameng.membership.models import Charge, Membership, Reminder
from kameng.payments.models import Payment
from kameng.sandbox import agreements as sandbox
from kameng.sandbox.models import SandboxAgreement
from tests.factories import PlanFactory, UserFactory, join_vip, play_for, play_until

pytestmark = pytest.mark.django_db


def play_past(moment) -> None:
    play_until(moment + timedelta(minutes=1))


def renewal_payments(membership) -> int:
    return Payment.objects.filter(order__membership_attempt__charge__membership=membership).count() - 1


@pytest.mark.parametrize("channel", ["alipay", "wechat"])
def test_auto_renew_signs_the_agreement_and_charges_the_first_period_through_it(channel):
    membership = join_vip(UserFactory(), PlanFactory(price_fen=3000), channel=channel, auto_renew=True)
    assert membership.status == Membership.Status.ACTIVE
    assert membership.agreement.status == "active" and membership.agreement.channel_agreement_no
    assert membership.next_charge_at == membership.current_period_end
    assert Payment.objects.filter(order__user=membership.user, amount_fen=3000).count() == 1


def test_monthly_member_is_reminded_7_and_3_days_before_and_charged_once_at_period_end():
    membership = join_vip(UserFactory(), PlanFactory(), auto_renew=True)
    end = membership.current_period_end
    play_until(end - timedelta(days=2))  # a month is 28 to 31 days: play to the moment, not a fixed day count
    reminders = {
        r.days_before: r.sent_at for r in Reminder.objects.filter(membership=membership, period_index=1)
    }
    assert set(reminders) == {7, 3}
    assert end - timedelta(days=8) < reminders[7] <= end - timedelta(days=6)
    assert end - timedelta(days=4) < reminders[3] <= end - timedelta(days=2)
    assert renewal_payments(membership) == 0
    play_past(end)
    membership.refresh_from_db()
    assert renewal_payments(membership) == 1
    assert membership.current_period_start == end and membership.period_index == 1


def test_twelve_renewals_in_a_year_each_period_charged_once():
    membership = join_vip(UserFactory(), PlanFactory(), channel="wechat", auto_renew=True)
    start = membership.current_period_start
    play_for(days=366)
    membership.refresh_from_db()
    assert renewal_payments(membership) == 12
    assert Charge.objects.filter(membership=membership, status="succeeded").count() == 13
    assert membership.current_period_start == start.replace(year=start.year + 1)
    assert Reminder.objects.filter(membership=membership).count() == 24


def test_a_member_who_joined_on_jan_31_renews_on_the_last_day_of_february():
    target = datetime(2027, 1, 31, 10, 0, tzinfo=clock.SHANGHAI)
    clock.advance(seconds=int((target - clock.now()).total_seconds()))
    membership = join_vip(UserFactory(), PlanFactory(), auto_renew=True)
    assert clock.local(membership.current_period_end).date().isoformat() == "2027-02-28"
    play_for(days=29)
    membership.refresh_from_db()
    assert clock.local(membership.current_period_start).date().isoformat() == "2027-02-28"
    assert clock.local(membership.current_period_end).date().isoformat() == "2027-03-31"


def test_failed_charge_pauses_benefits_retries_after_1_and_3_days_then_ends_without_extending():
    membership = join_vip(UserFactory(), PlanFactory(), auto_renew=True)
    end = membership.current_period_end
    sandbox.set_balance_short(agreement_no=membership.agreement.channel_agreement_no, short=True)
    play_past(end)
    membership.refresh_from_db()
    assert membership.status == Membership.Status.PAST_DUE
    assert membership.current_period_end == end  # a failed charge never extends the period
    assert membership.next_charge_at == membership.past_due_since + timedelta(days=1)
    play_for(days=1)
    membership.refresh_from_db()
    assert membership.status == Membership.Status.PAST_DUE
    assert membership.next_charge_at == membership.past_due_since + timedelta(days=3)
    play_for(days=3)
    membership.refresh_from_db()
    assert membership.status == Membership.Status.EXPIRED and membership.auto_renew is False
    assert membership.current_period_end == end
    assert renewal_payments(membership) == 0
    assert (
        AuditLog.objects.filter(action="membership.charge_failed", object_id=str(membership.pk)).count() == 3
    )


def test_a_retry_that_succeeds_starts_a_full_period_from_the_payment():
    membership = join_vip(UserFactory(), PlanFactory(), auto_renew=True)
    end = membership.current_period_end
    sandbox.set_balance_short(agreement_no=membership.agreement.channel_agreement_no, short=True)
    play_past(end)
    sandbox.set_balance_short(agreement_no=membership.agreement.channel_agreement_no, short=False)
    play_for(days=1)
    membership.refresh_from_db()
    assert membership.status == Membership.Status.ACTIVE
    assert membership.current_period_start > end
    assert renewal_payments(membership) == 1


def test_a_charge_without_a_reminder_5_days_earlier_is_postponed_not_taken():
    membership = join_vip(UserFactory(), PlanFactory(), auto_renew=True)
    # As if the reminder sweep had been down: nothing was sent before the charge date.
    Membership.objects.filter(pk=membership.pk).update(next_reminder_at=None)
    end = membership.current_period_end
    play_past(end)
    membership.refresh_from_db()
    assert renewal_payments(membership) == 0
    assert AuditLog.objects.filter(
        action="membership.charge_postponed", object_id=str(membership.pk)
    ).exists()
    reminder = Reminder.objects.get(membership=membership, period_index=1)
    assert membership.next_charge_at == reminder.sent_at + timedelta(days=5)
    play_for(days=4)
    assert renewal_payments(membership) == 0
    play_for(days=2)
    assert renewal_payments(membership) == 1


def test_without_auto_renew_the_membership_expires_at_period_end_and_is_never_charged():
    membership = join_vip(UserFactory(), PlanFactory())
    play_for(days=32)
    membership.refresh_from_db()
    assert membership.status == Membership.Status.EXPIRED
    assert renewal_payments(membership) == 0


def test_lifetime_membership_never_renews_or_expires():
    membership = join_vip(UserFactory(), PlanFactory(period="lifetime"))
    play_for(days=400)
    membership.refresh_from_db()
    assert membership.status == Membership.Status.ACTIVE
    assert Charge.objects.filter(membership=membership).count() == 1


def test_renewal_charges_the_agreed_price_even_after_the_plan_price_rises():
    plan = PlanFactory(price_fen=3000)
    membership = join_vip(UserFactory(), plan, auto_renew=True)
    plan.price_fen = 4500
    plan.save()
    play_for(days=32)
    paid = Payment.objects.filter(order__membership_attempt__charge__membership=membership)
    assert sorted(paid.values_list("amount_fen", flat=True)) == [3000, 3000]


def test_the_channel_refuses_a_charge_above_the_signed_cap():
    membership = join_vip(UserFactory(), PlanFactory(price_fen=3000), auto_renew=True)
    SandboxAgreement.objects.filter(agreement_no=membership.agreement.channel_agreement_no).update(
        single_amount_fen=2000
    )
    end = membership.current_period_end
    play_past(end)
    membership.refresh_from_db()
    assert membership.status == Membership.Status.PAST_DUE
    assert "EXCEED_SINGLE_AMOUNT" in Charge.objects.get(membership=membership, period_index=1).last_error


def test_the_reminder_mail_names_date_amount_and_cancel_link(settings):
    from kameng.notifications.models import Notification

    membership = join_vip(UserFactory(email="m@example.com"), PlanFactory(price_fen=3000), auto_renew=True)
    play_for(days=24)
    reminder = Notification.objects.get(user=membership.user, kind="membership.reminder")
    date = clock.local(membership.current_period_end).strftime("%Y-%m-%d")
    assert date in reminder.subject and "¥30.00" in reminder.subject
    assert "/member/cancel/" in reminder.body
    assert reminder.email_status == "sent"
