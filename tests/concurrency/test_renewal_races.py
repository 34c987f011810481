"""Renewal sweeps on PostgreSQL: several workers at once charge each due membership exactly once."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.db.models import Count

from kameng.core import clock
from kameng.membership import renewals
from kameng.membership.models import Charge, Membership, Reminder
from kameng.payments.models import Payment
from kameng.sandbox.services import deliver_due_notifications
from tests.factories import PlanFactory, UserFactory, join_vip, ready_for_renewal

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_workers_running_the_renewal_sweep_at_once_charge_each_membership_once():
    plan = PlanFactory()
    members = [join_vip(UserFactory(), plan, auto_renew=True) for _ in range(20)]
    # Reminded 7 days before C and announced on C-4, as the sweeps would have done; then the first attempt is due.
    first_attempt = max(ready_for_renewal(m) for m in members)
    clock.advance(seconds=int((first_attempt - clock.now()).total_seconds()) + 60)
    start = threading.Event()

    def sweep():
        try:
            start.wait(timeout=10)
            return renewals.renew_due_memberships()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = [pool.submit(sweep) for _ in range(3)]
        start.set()
        attempted = sum(f.result() for f in futures)
    deliver_due_notifications()
    assert attempted == 20
    renewals_paid = Payment.objects.filter(order__membership_attempt__charge__period_index=1)
    assert renewals_paid.count() == 20
    assert (
        not renewals_paid.values("order__membership_attempt__charge").annotate(n=Count("id")).filter(n__gt=1)
    )
    assert Charge.objects.filter(period_index=1, status="succeeded").count() == 20
    assert set(Membership.objects.values_list("period_index", flat=True)) == {1}


def test_ten_concurrent_subscriptions_of_one_member_make_one_membership():
    from kameng.core.errors import DomainError
    from kameng.membership import services

    user, plan = UserFactory(), PlanFactory()
    start = threading.Event()

    def subscribe():
        try:
            start.wait(timeout=10)
            services.subscribe(
                user=user,
                plan_code=plan.code,
                channel="alipay",
                auto_renew=False,
                consent=services.ConsentContext(given=False, ip=None, user_agent=""),
            )
            return "ok"
        except DomainError as exc:
            return exc.code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=10) as pool:
        futures = [pool.submit(subscribe) for _ in range(10)]
        start.set()
        outcomes = sorted(f.result() for f in futures)
    assert outcomes.count("ok") == 1
    assert set(outcomes) == {"ok", "subscription_pending"}
    assert Membership.objects.filter(user=user).count() == 1


def test_workers_sweeping_at_once_on_c_minus_4_send_each_renewal_notice_once():
    from unittest import mock

    from kameng.membership import announcements, schedule
    from kameng.payments.channels.registry import get_channel

    calls, lock = [], threading.Lock()

    class Counting:
        def __init__(self, real):
            self.real = real

        def __getattr__(self, name):
            return getattr(self.real, name)

        def announce_charge(self, *, channel_agreement_no, amount_fen):
            with lock:
                calls.append(channel_agreement_no)
            return True

    plan = PlanFactory()
    members = [join_vip(UserFactory(), plan, channel="wechat", auto_renew=True) for _ in range(12)]
    notice_at = max(schedule.coming_cycle(m).notice_at for m in members)
    Membership.objects.update(next_reminder_at=None)
    for m in members:  # reminded in time, as the reminder sweep would have done
        Reminder.objects.create(
            membership=m,
            period_index=1,
            days_before=7,
            charge_at=m.current_period_end,
            amount_fen=m.price_fen,
            sent_at=schedule.coming_cycle(m).reminder_at(7),
        )
    clock.advance(seconds=int((notice_at - clock.now()).total_seconds()) + 60)
    start = threading.Event()

    def sweep():
        try:
            start.wait(timeout=10)
            return renewals.renew_due_memberships()
        finally:
            connection.close()

    with mock.patch.object(announcements, "get_channel", lambda name: Counting(get_channel(name))):
        with ThreadPoolExecutor(max_workers=3) as pool:
            futures = [pool.submit(sweep) for _ in range(3)]
            start.set()
            sent = sum(f.result() for f in futures)
        assert renewals.renew_due_memberships() == 0  # announced: nothing more is due before C-2
    assert sent == 12 and sorted(calls) == sorted(m.agreement.channel_agreement_no for m in members)
    assert Charge.objects.filter(period_index=1, announced_at__isnull=False).count() == 12
    assert not Charge.objects.filter(period_index=1, attempts__gt=0).exists()
