"""Renewals, reminders and expiry, played on the sandbox test clock through the real channel protocols, on the
renewal schedule (docs/rules.md#renewal-schedule): reminders before C, the notice on C-4, attempts on C-2, C-1 and
C at the member's charge time, 07:00–22:00 only, never after C."""

from datetime import datetime, timedelta
from unittest import mock

import pytest

from kameng.core import clock
from kameng.core.models import AuditLog
from kameng.membership import announcements, renewals, schedule
from kameng.membership.models import Agreement, Charge, Membership, Reminder
from kameng.membership.periods import add_months
from kameng.notifications.models import Notification
from kameng.payments.models import Payment
from kameng.sandbox import agreements as sandbox
from kameng.sandbox.models import SandboxAgreement
from tests.factories import PlanFactory, UserFactory, join_vip, play_for, play_until, settle

pytestmark = pytest.mark.django_db
DAY = timedelta(days=1)


def play_past(moment) -> None:
    play_until(moment + timedelta(minutes=1))


def travel_to(moment: datetime) -> None:
    """Moves the clock without running any sweep (as if they were all down until then)."""
    clock.advance(seconds=max(0, int((moment - clock.now()).total_seconds()) + 1))


def join_at(moment: datetime, **kwargs) -> Membership:
    travel_to(moment)
    return join_vip(UserFactory(), PlanFactory(**kwargs.pop("plan", {})), auto_renew=True, **kwargs)


def renewal_payments(membership) -> int:
    return Payment.objects.filter(order__membership_attempt__charge__membership=membership).count() - 1


def cycle_of(membership) -> schedule.Cycle:
    membership.refresh_from_db()
    return schedule.coming_cycle(membership)


def renewal_charge(membership) -> Charge | None:
    return Charge.objects.filter(membership=membership, period_index=1).first()


def paid_on(membership):
    payment = Payment.objects.filter(order__membership_attempt__charge__period_index=1).get(
        order__user=membership.user
    )
    return clock.local(payment.paid_at)


def short(membership, on=True) -> None:
    sandbox.set_balance_short(agreement_no=membership.agreement.channel_agreement_no, short=on)


@pytest.mark.parametrize("channel", ["alipay", "wechat"])
def test_auto_renew_signs_the_agreement_and_schedules_the_first_renewal_on_its_planned_date(channel):
    membership = join_vip(UserFactory(), PlanFactory(price_fen=3000), channel=channel, auto_renew=True)
    assert membership.status == Membership.Status.ACTIVE
    assert membership.agreement.status == "active" and membership.agreement.channel_agreement_no
    coming = cycle_of(membership)
    assert coming.planned == clock.local(membership.current_period_end).date()
    assert membership.next_charge_at == coming.notice_at  # the sweep's first step: the notice on C-4
    assert membership.next_reminder_at == coming.reminder_at(7)
    assert Payment.objects.filter(order__user=membership.user, amount_fen=3000).count() == 1


def test_monthly_member_is_reminded_announced_on_c_minus_4_and_charged_once_on_c_minus_2():
    membership = join_at(datetime(2027, 3, 10, 15, 30, tzinfo=clock.SHANGHAI))
    coming, end = cycle_of(membership), membership.current_period_end
    assert coming.planned.isoformat() == "2027-04-10"
    play_until(coming.first_attempt_at - timedelta(minutes=1))
    reminders = {
        r.days_before: clock.local(r.sent_at)
        for r in Reminder.objects.filter(membership=membership, period_index=1)
    }
    assert {d: m.date().isoformat() for d, m in reminders.items()} == {7: "2027-04-03", 3: "2027-04-07"}
    assert clock.local(renewal_charge(membership).announced_at).date().isoformat() == "2027-04-06"
    assert renewal_payments(membership) == 0
    play_past(coming.first_attempt_at)
    membership.refresh_from_db()
    assert renewal_payments(membership) == 1
    assert paid_on(membership).date().isoformat() == "2027-04-08"
    assert "15:30" <= paid_on(membership).strftime("%H:%M") < "15:32"
    # The new period continues from the old end: the two days before it are the old period's, kept.
    assert membership.current_period_start == end and membership.period_index == 1


def test_twelve_renewals_in_a_year_each_period_charged_once_inside_its_window():
    membership = join_vip(UserFactory(), PlanFactory(), channel="wechat", auto_renew=True)
    start = membership.current_period_start
    play_for(days=366)
    membership.refresh_from_db()
    assert renewal_payments(membership) == 12
    assert Charge.objects.filter(membership=membership, status="succeeded").count() == 13
    assert membership.current_period_start == start.replace(year=start.year + 1)
    assert Reminder.objects.filter(membership=membership).count() == 24
    for charge in Charge.objects.filter(membership=membership, period_index__gte=1):
        renewed_end = add_months(membership.anchor_at, charge.period_index)  # the end of the period renewed
        coming = schedule.cycle(
            period_end=renewed_end, subscribed_at=membership.created_at, anchor_at=membership.anchor_at
        )
        paid = clock.local(charge.succeeded_at)
        assert paid.date() in coming.window_days and schedule.in_charge_hours(paid)
        assert (paid.date() - clock.local(charge.announced_at).date()).days >= 2


def test_a_member_who_joined_on_jan_31_is_charged_on_the_26th_of_march_and_keeps_to_the_31st():
    membership = join_at(datetime(2027, 1, 31, 10, 0, tzinfo=clock.SHANGHAI))
    assert clock.local(membership.current_period_end).date().isoformat() == "2027-02-28"
    play_until(datetime(2027, 3, 1, 10, 0, tzinfo=clock.SHANGHAI))
    membership.refresh_from_db()
    assert clock.local(membership.current_period_start).date().isoformat() == "2027-02-28"
    assert clock.local(membership.current_period_end).date().isoformat() == "2027-03-31"
    assert cycle_of(membership).planned.isoformat() == "2027-03-28"
    play_until(datetime(2027, 3, 27, 10, 0, tzinfo=clock.SHANGHAI))
    membership.refresh_from_db()
    second = Charge.objects.get(membership=membership, period_index=2)
    assert clock.local(second.succeeded_at).date().isoformat() == "2027-03-26"  # C-2, C = the 28th
    assert clock.local(membership.current_period_start).date().isoformat() == "2027-03-31"  # every day kept


def test_a_refused_charge_is_retried_on_c_minus_1_and_c_and_then_auto_renew_ends_at_the_period_end():
    membership = join_at(
        datetime(2027, 3, 31, 15, 30, tzinfo=clock.SHANGHAI)
    )  # C = Apr 28, the period to Apr 30
    coming, end = cycle_of(membership), membership.current_period_end
    assert coming.planned.isoformat() == "2027-04-28"
    short(membership)
    play_past(coming.first_attempt_at)
    membership.refresh_from_db()
    assert membership.status == Membership.Status.ACTIVE and membership.auto_renew  # no day paid for is taken
    assert membership.next_charge_at == coming.attempt_times()[1]
    play_past(coming.attempt_times()[1])
    membership.refresh_from_db()
    assert (
        membership.status == Membership.Status.ACTIVE and membership.next_charge_at == coming.last_attempt_at
    )
    play_past(coming.last_attempt_at)
    membership.refresh_from_db()
    assert membership.status == Membership.Status.ACTIVE and membership.auto_renew is False  # to Apr 30
    assert membership.agreement.status in (Agreement.Status.CANCEL_REQUESTED, Agreement.Status.TERMINATED)
    failed = AuditLog.objects.filter(action="membership.charge_failed", object_id=str(membership.pk))
    assert sorted(clock.local(a.at).date().isoformat() for a in failed) == [
        "2027-04-26",
        "2027-04-27",
        "2027-04-28",
    ]
    told = Notification.objects.get(user=membership.user, kind="membership.renewal_ended")
    assert clock.local(end).strftime("%Y-%m-%d %H:%M") in told.body
    play_past(end)
    membership.refresh_from_db()
    assert membership.status == Membership.Status.EXPIRED and membership.current_period_end == end
    assert renewal_payments(membership) == 0


def test_a_retry_that_succeeds_on_c_minus_1_continues_from_the_period_end():
    membership = join_at(datetime(2027, 3, 10, 15, 30, tzinfo=clock.SHANGHAI))
    coming, end = cycle_of(membership), membership.current_period_end
    short(membership)
    play_past(coming.first_attempt_at)
    short(membership, on=False)
    play_past(coming.attempt_times()[1])
    membership.refresh_from_db()
    assert membership.status == Membership.Status.ACTIVE and membership.period_index == 1
    assert membership.current_period_start == end  # not re-anchored: no day given or taken
    assert paid_on(membership).date().isoformat() == "2027-04-09"
    assert renewal_payments(membership) == 1


def test_without_a_reminder_5_days_before_the_first_attempt_auto_renew_pauses_and_the_member_is_told():
    membership = join_at(datetime(2027, 3, 10, 15, 30, tzinfo=clock.SHANGHAI))
    coming, end = cycle_of(membership), membership.current_period_end
    # As if the reminder sweep had been down past C-7: nothing was sent in time.
    Membership.objects.filter(pk=membership.pk).update(next_reminder_at=None)
    play_past(end)
    membership.refresh_from_db()
    assert renewal_payments(membership) == 0
    assert renewal_charge(membership) is None  # no notice, no attempt
    assert AuditLog.objects.filter(
        action="membership.renewal_paused_late_reminder", object_id=str(membership.pk)
    ).exists()
    assert membership.status == Membership.Status.EXPIRED and membership.ended_at >= end
    told = Notification.objects.get(user=membership.user, kind="membership.renewal_ended")
    assert "5" in told.body and clock.local(end).strftime("%Y-%m-%d %H:%M") in told.body
    assert "/member/plans/" in told.body
    assert coming.planned  # the cycle existed; it was simply never charged


def test_a_reminder_sweep_back_after_the_deadline_pauses_at_once_instead_of_reminding_late():
    membership = join_at(datetime(2027, 3, 10, 15, 30, tzinfo=clock.SHANGHAI))
    coming = cycle_of(membership)
    travel_to(clock.local(coming.reminder_at(7)) + 2 * DAY)  # C-5: every sweep was down
    settle()
    membership.refresh_from_db()
    assert membership.auto_renew is False
    assert not Reminder.objects.filter(membership=membership).exists()
    assert Notification.objects.filter(user=membership.user, kind="membership.renewal_ended").exists()


def test_a_reminder_sent_late_on_the_deadline_day_still_counts():
    membership = join_at(datetime(2027, 3, 10, 15, 30, tzinfo=clock.SHANGHAI))
    coming = cycle_of(membership)
    travel_to(clock.local(coming.reminder_at(7)).replace(hour=21, minute=50))  # C-7, hours late
    settle()
    membership.refresh_from_db()
    assert membership.auto_renew is True
    assert Reminder.objects.filter(membership=membership, days_before=7).exists()


# --- the boundaries, with every sweep down until the moment named ------------------------------------------------


def announced(membership) -> schedule.Cycle:
    """Plays to just after the notice; the cycle. The reminders (sent by the played sweep seconds after their
    moment) are moved a day earlier, so that the attempt times, not the 5 × 24 h after them, are at stake."""
    coming = cycle_of(membership)
    play_past(coming.reminder_at(3))
    for reminder in Reminder.objects.filter(membership=membership, period_index=1):
        Reminder.objects.filter(pk=reminder.pk).update(sent_at=reminder.sent_at - DAY)
    play_past(coming.notice_at)
    assert renewal_charge(membership).announced_at is not None
    return coming


def night_member() -> Membership:
    """Joined at 02:00: the charge time clamps to 07:00."""
    return join_at(datetime(2027, 5, 20, 2, 0, tzinfo=clock.SHANGHAI))


def test_nothing_is_charged_on_c_minus_3_even_when_the_sweep_is_woken():
    membership = night_member()
    coming = announced(membership)
    travel_to(clock.local(coming.first_attempt_at) - DAY + timedelta(hours=3))  # C-3 10:00
    Membership.objects.filter(pk=membership.pk).update(next_charge_at=clock.now())
    renewals.renew_due_memberships()
    membership.refresh_from_db()
    assert renewal_charge(membership).attempts == 0
    assert membership.next_charge_at == coming.first_attempt_at


def test_nothing_is_charged_at_06_59_and_the_charge_goes_at_07_00():
    membership = night_member()
    coming = announced(membership)
    assert coming.first_attempt_at.time().isoformat() == "07:00:00"
    travel_to(coming.first_attempt_at - timedelta(minutes=1, seconds=2))
    Membership.objects.filter(pk=membership.pk).update(next_charge_at=clock.now())
    renewals.renew_due_memberships()
    assert renewal_charge(membership).attempts == 0
    travel_to(coming.first_attempt_at)
    renewals.renew_due_memberships()
    settle()
    assert renewal_payments(membership) == 1
    assert paid_on(membership).strftime("%H:%M") == "07:00"


def test_at_22_00_no_attempt_is_sent_and_it_waits_for_the_next_day():
    membership = night_member()
    coming = announced(membership)
    travel_to(clock.local(coming.first_attempt_at).replace(hour=22, minute=0))  # C-2 22:00: missed the day
    renewals.renew_due_memberships()
    membership.refresh_from_db()
    assert renewal_charge(membership).attempts == 0
    assert membership.next_charge_at == coming.attempt_times()[1]


def test_a_window_missed_entirely_is_never_charged_after_c():
    membership = night_member()
    coming = announced(membership)
    travel_to(clock.local(coming.last_attempt_at) + DAY + timedelta(hours=3))  # C+1 10:00
    renewals.renew_due_memberships()
    settle()
    membership.refresh_from_db()
    assert renewal_payments(membership) == 0 and renewal_charge(membership).attempts == 0
    assert renewal_charge(membership).status == Charge.Status.FAILED
    assert AuditLog.objects.filter(
        action="membership.renewal_window_missed", object_id=str(membership.pk)
    ).exists()
    assert membership.auto_renew is False and membership.status == Membership.Status.EXPIRED


def test_after_two_refusals_a_sweep_that_wakes_on_c_at_22_00_gives_up():
    membership = night_member()
    coming = cycle_of(membership)
    short(membership)
    play_past(coming.attempt_times()[1])
    assert renewal_charge(membership).attempts == 2
    travel_to(clock.local(coming.last_attempt_at).replace(hour=22))
    renewals.renew_due_memberships()
    membership.refresh_from_db()
    assert renewal_charge(membership).attempts == 2 and membership.auto_renew is False


def test_a_first_reminder_sent_late_in_its_day_holds_the_attempt_5_times_24_hours_after_it():
    membership = night_member()
    coming = cycle_of(membership)
    travel_to(clock.local(coming.reminder_at(7)).replace(hour=21, minute=30))  # C-7, the sweep back at 21:30
    settle()
    play_past(coming.first_attempt_at + timedelta(hours=15))
    paid = paid_on(membership)
    first = Reminder.objects.get(membership=membership, period_index=1, days_before=7)
    assert paid >= clock.local(first.sent_at) + 5 * DAY  # the floor holds to the hour
    assert paid.date() == coming.first_attempt_at.date() and paid.strftime("%H:%M") == "21:30"


# --- the notice step ------------------------------------------------------------------------------------------------


class Announcing:
    """The real channel with its notices counted; the first answers are the test's (a notice the channel did not
    take), the others the channel's own (the sandbox then holds the charge to the notice it took)."""

    def __init__(self, real, answers):
        self.real, self.answers, self.calls = real, list(answers), []

    def __getattr__(self, name):
        return getattr(self.real, name)

    def announce_charge(self, *, channel_agreement_no, amount_fen):
        self.calls.append((channel_agreement_no, amount_fen, clock.now()))
        if self.answers:
            return self.answers.pop(0)
        return self.real.announce_charge(channel_agreement_no=channel_agreement_no, amount_fen=amount_fen)


def with_channel(channel):
    return mock.patch.object(announcements, "get_channel", lambda name: channel)


def test_the_notice_goes_once_per_cycle_on_c_minus_4_with_the_price():
    membership = join_at(datetime(2027, 5, 20, 12, 0, tzinfo=clock.SHANGHAI), channel="wechat")
    coming = cycle_of(membership)
    from kameng.payments.channels.registry import get_channel

    channel = Announcing(get_channel("wechat"), [])
    with with_channel(channel):
        play_past(coming.first_attempt_at)
        renewals.renew_due_memberships()
    assert len(channel.calls) == 1
    agreement_no, amount, sent = channel.calls[0]
    assert (agreement_no, amount) == (membership.agreement.channel_agreement_no, membership.price_fen)
    assert clock.local(sent).date() == coming.planned - 4 * DAY and schedule.in_charge_hours(sent)
    assert (
        AuditLog.objects.filter(action="membership.charge_announced", object_id=str(membership.pk)).count()
        == 1
    )
    assert renewal_payments(membership) == 1


def test_no_charge_without_the_notice_in_place_and_a_late_notice_shortens_the_window():
    membership = join_at(datetime(2027, 5, 20, 12, 0, tzinfo=clock.SHANGHAI), channel="wechat")
    coming = cycle_of(membership)
    from kameng.payments.channels.registry import get_channel

    # Refused all of C-4 (every 10 minutes, the lease), in place at C-3's first try.
    tries_on_c4 = 6 * 10 + 1
    channel = Announcing(get_channel("wechat"), [False] * tries_on_c4)
    with with_channel(channel):
        play_past(coming.first_attempt_at)
        assert renewal_payments(membership) == 0  # C-2: WeChat's waiting period after a notice on C-3
        play_past(coming.attempt_times()[1])
    charge = renewal_charge(membership)
    assert clock.local(charge.announced_at).date() == coming.planned - 3 * DAY
    assert renewal_payments(membership) == 1
    assert paid_on(membership).date() == coming.planned - DAY


def test_a_notice_still_refused_on_c_minus_2_means_the_cycle_is_never_charged():
    membership = join_at(datetime(2027, 5, 20, 12, 0, tzinfo=clock.SHANGHAI), channel="wechat")
    coming = cycle_of(membership)
    from kameng.payments.channels.registry import get_channel

    channel = Announcing(get_channel("wechat"), [False] * 10_000)
    with with_channel(channel):
        play_past(membership.current_period_end)
    membership.refresh_from_db()
    assert renewal_payments(membership) == 0
    assert all(schedule.in_charge_hours(sent) for _, _, sent in channel.calls)
    assert max(clock.local(sent).date() for _, _, sent in channel.calls) == coming.last_notice_day
    assert membership.status == Membership.Status.EXPIRED


# --- the rest of the lifecycle --------------------------------------------------------------------------------------


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
    coming = cycle_of(membership)
    play_past(coming.first_attempt_at)
    membership.refresh_from_db()
    assert membership.status == Membership.Status.ACTIVE
    assert "CYCLE_PAY_SINGLE_FEE_EXCEED" in renewal_charge(membership).last_error


def test_the_reminder_mail_names_the_planned_date_its_window_amount_and_cancel_link():
    membership = join_vip(UserFactory(email="m@example.com"), PlanFactory(price_fen=3000), auto_renew=True)
    coming = cycle_of(membership)
    play_past(coming.reminder_at(7))
    reminder = Notification.objects.get(user=membership.user, kind="membership.reminder")
    date = coming.planned.isoformat()
    assert date in reminder.subject and "¥30.00" in reminder.subject
    opens = (coming.planned - 2 * DAY).isoformat()
    assert f"{opens} 至 {date} 每天 07:00–22:00" in reminder.body
    assert "/member/cancel/" in reminder.body
    assert reminder.email_status == "sent"


def test_an_english_speaking_member_reads_the_same_date_and_window_in_english():
    user = UserFactory(email="en@example.com")
    user.language = "en"
    user.save()
    membership = join_vip(user, PlanFactory(price_fen=3000), auto_renew=True)
    coming = cycle_of(membership)
    play_past(coming.reminder_at(7))
    reminder = Notification.objects.get(user=membership.user, kind="membership.reminder")
    opens, date = (coming.planned - 2 * DAY).isoformat(), coming.planned.isoformat()
    assert f"charged between {opens} and {date}, 07:00–22:00" in reminder.body
