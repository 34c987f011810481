"""One renewal refusal told twice at once, on PostgreSQL: WeChat's failed-payment notification (PAY_FAIL) and the
query sweep's CLOSED answer for the same charge are applied once: one failed attempt, one mail."""

import threading
from concurrent.futures import ThreadPoolExecutor
from unittest import mock

import pytest
from django.db import connection, transaction

from kameng.core import clock, locking
from kameng.core.audit import Source
from kameng.core.models import AuditLog
from kameng.membership import renewals
from kameng.membership.models import Charge, ChargeAttempt
from kameng.notifications.models import Notification
from kameng.payments import queries
from kameng.payments import services as payments
from kameng.payments.channels.base import ChargeResult, Outcome, TradeState, TradeStatus
from kameng.payments.models import ChannelQuery
from tests.factories import PlanFactory, UserFactory, join_vip, ready_for_renewal

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


class Accepting:
    """The real channel, but a renewal charge is only accepted (WeChat 受理): the result comes later."""

    def __init__(self, real):
        self._real = real

    def __getattr__(self, name):
        return getattr(self._real, name)

    def charge_agreement(self, **_) -> ChargeResult:
        return ChargeResult(Outcome.PENDING, message="accepted")


def test_a_refusal_notified_and_queried_at_once_counts_one_failed_attempt_and_sends_one_mail():
    membership = join_vip(UserFactory(), PlanFactory(), channel="wechat", auto_renew=True)
    clock.advance(seconds=int((ready_for_renewal(membership) - clock.now()).total_seconds()) + 60)
    real = renewals.get_channel
    with mock.patch.object(renewals, "get_channel", lambda name: Accepting(real(name))):
        assert renewals.renew_due_memberships() == 1
    attempt = ChargeAttempt.objects.select_related("order").get(
        charge__membership=membership, charge__period_index=1
    )
    order_no = attempt.order.order_no
    query = ChannelQuery.objects.create(
        kind=ChannelQuery.Kind.TRADE, order=attempt.order, agreement_charge=True, created_at=clock.now()
    )
    # Both read the attempt before either takes the locks: the window in which the second used to see it unrefused.
    both_read = threading.Barrier(2, timeout=10)
    real_lock_each, first = locking.lock_each, threading.local()

    def lock_each_after_both_read(*querysets):
        if not getattr(first, "done", False):
            first.done = True
            both_read.wait()
        return real_lock_each(*querysets)

    def notified():
        with transaction.atomic():
            payments.refuse_charge(
                channel="wechat", order_no=order_no, reason="PAY_FAIL", source=Source.CHANNEL
            )

    def queried():
        queries._apply_trade(
            query_id=query.pk, status=TradeStatus(TradeState.CLOSED, message="PAYERROR"), actor=None
        )

    def run(step):
        try:
            step()
        finally:
            connection.close()

    with (
        mock.patch.object(locking, "lock_each", lock_each_after_both_read),
        ThreadPoolExecutor(max_workers=2) as pool,
    ):
        for future in [pool.submit(run, notified), pool.submit(run, queried)]:
            future.result()
    membership.refresh_from_db()
    assert membership.failed_attempts == 1
    assert (
        AuditLog.objects.filter(action="membership.charge_failed", object_id=str(membership.pk)).count() == 1
    )
    assert Notification.objects.filter(user=membership.user, kind="membership.charge_failed").count() == 1
    assert ChargeAttempt.objects.get(pk=attempt.pk).outcome == ChargeAttempt.Outcome.FAILED
    assert Charge.objects.get(pk=attempt.charge_id).status == Charge.Status.PENDING  # C-1 and C are left
