"""Convergence with the sandbox's notifications switched off (KAMENG_SANDBOX_NOTIFY=0): a paid order, a renewal
charge whose answer was lost and a refund whose answer was lost each reach their final state through the query
sweep alone (kameng.payments.queries), asked over the channel's real protocol."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.test import Client

from kameng.core import clock, outbox
from kameng.core.models import AuditLog
from kameng.membership import renewals, schedule
from kameng.membership.models import Charge, ChargeAttempt
from kameng.orders.models import Order
from kameng.payments import queries, services
from kameng.payments.models import Payment, Refund
from kameng.sandbox import faults
from kameng.sandbox.models import SandboxNotification
from tests.factories import PlanFactory, UserFactory, join_vip, place_order, play_until, stocked_product

pytestmark = pytest.mark.django_db
CHANNELS = ["alipay", "wechat"]
# faults.reseed(LOSES_THE_ANSWER): with KAMENG_SANDBOX_FAULT_RATE=1 the next call is carried out and its answer
# lost (random.Random(0).random() = 0.84 ≥ 0.5, the "after" half of kameng.sandbox.faults).
LOSES_THE_ANSWER = 0


def after_the_first_query_is_due() -> None:
    clock.advance(seconds=int(queries.QUERY_AFTER.total_seconds()) + 1)


def answers_lost(settings):
    """The channel carries out the next call, and its answer never reaches the shop."""
    settings.KAMENG_SANDBOX_FAULT_RATE = 1.0
    faults.reseed(LOSES_THE_ANSWER)


def paid_by_query(channel: str) -> Order:
    order = place_order(UserFactory(), stocked_product(keys=1), channel=channel)
    paid = Client().post(f"/sandbox/pay/{order.order_no}")
    assert paid.status_code == 200, paid.content
    after_the_first_query_is_due()
    queries.query_due()
    order.refresh_from_db()
    return order


@pytest.fixture
def notifications_off(settings):
    settings.KAMENG_SANDBOX_NOTIFY = False


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_paid_order_is_delivered_through_the_query_sweep_alone(notifications_off, channel):
    order = paid_by_query(channel)
    assert not SandboxNotification.objects.exists()
    assert order.status == Order.Status.DELIVERED
    received = AuditLog.objects.get(action="payment.received", data__order_no=order.order_no)
    assert received.source == AuditLog.Source.QUERY


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_renewal_charge_whose_answer_was_lost_settles_through_the_query_sweep_alone(settings, channel):
    membership = join_vip(UserFactory(), PlanFactory(price_fen=3000), channel=channel, auto_renew=True)
    settings.KAMENG_SANDBOX_NOTIFY = False  # from here on the channel tells nothing unasked
    play_until(
        schedule.coming_cycle(membership).first_attempt_at - timedelta(minutes=1)
    )  # reminded, announced
    clock.advance(seconds=120)
    answers_lost(settings)
    assert renewals.renew_due_memberships() == 1
    settings.KAMENG_SANDBOX_FAULT_RATE = 0.0
    attempt = ChargeAttempt.objects.get(charge__membership=membership, charge__period_index=1)
    assert (
        attempt.outcome == ChargeAttempt.Outcome.UNANSWERED
    )  # charged at the channel; the shop does not know
    after_the_first_query_is_due()
    queries.query_due()
    charge = Charge.objects.get(pk=attempt.charge_id)
    assert charge.status == Charge.Status.SUCCEEDED
    assert Payment.objects.filter(order=attempt.order).count() == 1
    membership.refresh_from_db()
    assert membership.period_index == 1


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_refund_whose_answer_was_lost_is_confirmed_through_the_query_sweep_alone(
    notifications_off, settings, channel
):
    order = paid_by_query(channel)
    with transaction.atomic():
        refund = services.request_refund(
            payment=Payment.objects.get(order=order),
            amount_fen=order.amount_fen,
            reason=Refund.Reason.OUT_OF_STOCK,
        )
    lost = faults.injected["after"]
    answers_lost(settings)
    outbox.deliver_due()  # the refund's message: the channel pays the money back, the answer is lost
    settings.KAMENG_SANDBOX_FAULT_RATE = 0.0
    refund.refresh_from_db()
    assert refund.status == Refund.Status.PENDING and faults.injected["after"] == lost + 1
    after_the_first_query_is_due()
    queries.query_due()
    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert AuditLog.objects.get(action="refund.succeeded", object_id=str(refund.pk)).source == "query"
