"""退订 under races on PostgreSQL: double clicks, a renewal sweep running at the same moment, repeated notices."""

import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test import Client

from kameng.core import clock
from kameng.membership import cancellation, renewals
from kameng.membership.models import Cancellation, Membership, Reminder
from kameng.payments.models import NotificationLog, Payment, Refund
from kameng.protocols import alipay as alipay_protocol
from kameng.sandbox import keys
from tests.factories import PlanFactory, UserFactory, join_vip, settle

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def at_once(fn, n: int) -> list:
    start = threading.Event()

    def run():
        try:
            start.wait(timeout=10)
            return fn()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=n) as pool:
        futures = [pool.submit(run) for _ in range(n)]
        start.set()
        return [f.result() for f in futures]


def test_20_concurrent_cancels_give_one_receipt_and_one_refund():
    user = UserFactory()
    join_vip(user, PlanFactory(price_fen=3000), auto_renew=True)
    receipts = at_once(lambda: cancellation.cancel_membership(user=user, mode="immediate").receipt_no, 20)
    assert len(set(receipts)) == 1
    assert Cancellation.objects.count() == 1 and Refund.objects.count() == 1
    assert Refund.objects.get().amount_fen == 3000


def test_a_cancel_racing_the_renewal_sweep_never_leaves_a_silent_charge():
    plan = PlanFactory(price_fen=3000)
    members = [join_vip(UserFactory(), plan, auto_renew=True) for _ in range(10)]
    for m in members:
        Reminder.objects.create(
            membership=m,
            period_index=1,
            days_before=7,
            charge_at=m.current_period_end,
            amount_fen=3000,
            sent_at=m.current_period_end.replace(year=m.current_period_end.year - 1),
        )
    Membership.objects.update(next_reminder_at=None)
    clock.advance(seconds=int((members[-1].current_period_end - clock.now()).total_seconds()) + 60)

    turns = iter(range(20))  # even turns run the sweep, odd turns cancel one member each

    def sweep_or_cancel():
        n = next(turns)
        if n % 2 == 0:
            return renewals.renew_due_memberships()
        member = members[n // 2 % len(members)]
        return cancellation.cancel_membership(user=member.user, mode="end_of_period").receipt_no

    at_once(sweep_or_cancel, 20)
    settle()
    assert Cancellation.objects.count() == 10
    for m in members:
        m.refresh_from_db()
        cancelled = Cancellation.objects.get(membership=m)
        renewal = m.charges.filter(period_index=1, status="succeeded").first()
        if m.period_index == 1:  # the renewal won the race: it was paid before the cancel arrived
            assert renewal.succeeded_at <= cancelled.received_at
        for payment in Payment.objects.filter(
            order__membership_attempt__charge__membership=m, paid_at__gt=cancelled.received_at
        ):
            # money taken after the cancel: refunded in full, never a silent charge
            assert payment.refunds.get().amount_fen == payment.amount_fen


def test_ten_deliveries_of_one_unsign_notification_cancel_once():
    user = UserFactory()
    membership = join_vip(user, PlanFactory(), auto_renew=True)
    agreement = membership.agreement
    params = {
        "notify_id": "unsign-once",
        "notify_type": "dut_user_unsign",
        "notify_time": clock.now().strftime("%Y-%m-%d %H:%M:%S"),
        "app_id": keys.ALIPAY_APP_ID,
        "status": "UNSIGN",
        "agreement_no": agreement.channel_agreement_no,
        "external_agreement_no": agreement.external_no,
        "personal_product_code": "CYCLE_PAY_AUTH_P",
    }
    body = urlencode(
        alipay_protocol.sign_notification(params, keys.sandbox_keys()["alipay_private"])
    ).encode()

    def deliver():
        return (
            Client()
            .post("/payments/notify/alipay/", body, content_type="application/x-www-form-urlencoded")
            .content
        )

    assert at_once(deliver, 10) == [b"success"] * 10
    assert Cancellation.objects.filter(membership=membership).count() == 1
    assert NotificationLog.objects.filter(dedupe_key="unsign-once", accepted=True).count() == 1
    membership.refresh_from_db()
    assert membership.auto_renew is False and membership.status == Membership.Status.ACTIVE
