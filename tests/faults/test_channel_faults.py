"""The payment channel (the sandbox gateway) fails 30 % of calls: half before doing anything, half after taking or
paying the money with the answer lost. Charges and refunds still converge, each exactly once."""

import time
from datetime import timedelta

import pytest

from kameng.console.invariants import find_violations
from kameng.membership import cancellation, schedule
from kameng.membership.models import Charge, Membership
from kameng.payments.models import Payment, Refund
from kameng.sandbox import faults
from kameng.sandbox.models import SandboxRefund, SandboxTrade
from tests.factories import PlanFactory, UserFactory, join_vip, play_for, play_next_due, play_until

pytestmark = pytest.mark.django_db
MEMBERS = 12


@pytest.fixture
def flaky_channel(settings):
    faults.reseed(20261125)
    faults.injected.clear()
    yield lambda: setattr(settings, "KAMENG_SANDBOX_FAULT_RATE", 0.3)
    settings.KAMENG_SANDBOX_FAULT_RATE = 0


def play_until_converged(done, *, limit: int = 400) -> None:
    """Plays from one due moment to the next (leases running out, retries, notifications) until `done()`."""
    for _ in range(limit):
        if done():
            return
        assert play_next_due(), "nothing is due any more and still not converged"
    raise AssertionError("did not converge")


def wait_for(condition, *, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not so after {seconds} s")
        time.sleep(0.05)


def test_renewal_charges_converge_once_each_when_the_channel_fails_30_percent(flaky_channel):
    plan = PlanFactory()
    members = [
        join_vip(UserFactory(), plan, channel="alipay" if n % 2 else "wechat", auto_renew=True)
        for n in range(MEMBERS)
    ]
    first_attempt = min(schedule.coming_cycle(m).first_attempt_at for m in members)
    play_until(first_attempt - timedelta(minutes=1))  # reminded and announced on time, nothing charged yet
    flaky_channel()
    renewed = Membership.objects.filter(pk__in=[m.pk for m in members], period_index=1)
    play_until_converged(
        lambda: renewed.count() == MEMBERS
    )  # lost answers: each charge is asked again when its lease ends
    play_for(minutes=200)  # the lost answers' notifications arrive too

    assert faults.injected["before"] > 0 and faults.injected["after"] > 0
    assert Charge.objects.filter(period_index=1, status=Charge.Status.SUCCEEDED).count() == MEMBERS
    for membership in members:
        kept = Payment.objects.filter(order__membership_attempt__charge__membership=membership)
        assert kept.count() == 2, membership  # the first period and one renewal, never a second
    paid_at_channel = SandboxTrade.objects.filter(status=SandboxTrade.Status.PAID)
    assert paid_at_channel.count() == 2 * MEMBERS
    assert find_violations() == {}


def test_refunds_converge_once_each_when_the_channel_fails_30_percent(flaky_channel):
    plan = PlanFactory(price_fen=3000)
    users = [UserFactory() for _ in range(MEMBERS)]
    for n, user in enumerate(users):
        join_vip(user, plan, channel="alipay" if n % 2 else "wechat")
    flaky_channel()
    for user in users:
        cancellation.cancel_membership(user=user, mode="immediate", reason="mistaken_purchase")
    refunds = Refund.objects.filter(reason=Refund.Reason.MEMBERSHIP_CANCELLED)
    play_until_converged(lambda: not refunds.exclude(status=Refund.Status.SUCCEEDED).exists())

    assert faults.injected["before"] > 0 and faults.injected["after"] > 0
    assert refunds.count() == MEMBERS
    for refund in refunds:
        at_channel = SandboxRefund.objects.filter(out_refund_no=refund.refund_no)
        assert [r.amount_fen for r in at_channel] == [3000], refund.refund_no
    assert find_violations() == {}


@pytest.mark.django_db(transaction=True)
def test_refunds_converge_once_each_when_the_channel_answers_after_the_shop_stopped_waiting(
    live_server, settings
):
    """Over real HTTP: the gateway does the refund, then answers after the shop's timeout has passed."""
    settings.KAMENG_PUBLIC_URL, settings.KAMENG_HTTP_INPROCESS = live_server.url, False
    settings.KAMENG_HTTP_TIMEOUT, settings.KAMENG_SANDBOX_FAULT_DELAY = 0.5, 1.5
    plan = PlanFactory(price_fen=3000)
    users = [UserFactory() for _ in range(4)]
    for user in users:
        join_vip(user, plan)
    faults.reseed(7)
    faults.injected.clear()
    settings.KAMENG_SANDBOX_FAULT_RATE = 0.6
    try:
        for user in users:
            cancellation.cancel_membership(user=user, mode="immediate", reason="mistaken_purchase")
        refunds = Refund.objects.filter(reason=Refund.Reason.MEMBERSHIP_CANCELLED)
        play_until_converged(lambda: not refunds.exclude(status=Refund.Status.SUCCEEDED).exists())
    finally:
        settings.KAMENG_SANDBOX_FAULT_RATE = 0
        wait_for(lambda: faults.calls_being_answered() == 0, seconds=10)  # late answers end before the flush

    assert faults.injected["after"] > 0
    for refund in refunds:
        at_channel = SandboxRefund.objects.filter(out_refund_no=refund.refund_no)
        assert [r.amount_fen for r in at_channel] == [3000], refund.refund_no
    assert find_violations() == {}
