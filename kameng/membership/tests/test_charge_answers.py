"""What becomes of a charge after the channel answers it, on the sandbox clock (docs/rules.md#renewal-schedule):
the first WeChat charge inside 07:00–22:00 only, an accepted charge never sent again, a given-up charge's trade
closed at the channel, and no signed agreement left behind an abandoned membership."""

from datetime import datetime, timedelta

import pytest

from kameng.core import clock
from kameng.core.errors import DomainError
from kameng.core.http import TransportError
from kameng.core.models import AuditLog
from kameng.membership import renewals, schedule, trade_closing
from kameng.membership import services as membership_services
from kameng.membership.models import Agreement, Charge, ChargeAttempt, Membership
from kameng.payments.channels.base import ChargeResult, Outcome
from kameng.payments.models import Payment
from kameng.payments.selectors import pay_redirect_url
from kameng.sandbox import agreements as sandbox_agreements
from kameng.sandbox import services as sandbox
from kameng.sandbox.models import SandboxAgreement, SandboxTrade
from tests.factories import (
    PlanFactory,
    UserFactory,
    complete_at_channel,
    join_vip,
    play_until,
    ready_for_renewal,
    settle,
)

pytestmark = pytest.mark.django_db


def travel_to(moment: datetime) -> None:
    clock.advance(seconds=max(0, int((moment - clock.now()).total_seconds()) + 1))


class Answering:
    """The real channel, but its answer to a renewal charge is `answer(out_trade_no, amount_fen)`; counts the
    charges sent."""

    def __init__(self, real, answer):
        self._real, self._answer, self.sent = real, answer, []

    def __getattr__(self, name):
        return getattr(self._real, name)

    def charge_agreement(self, *, out_trade_no: str, amount_fen: int, **_) -> ChargeResult:
        self.sent.append(out_trade_no)
        return self._answer(out_trade_no, amount_fen)


@pytest.fixture
def answering(monkeypatch):
    """answering(answer) → the channel every renewal charge goes to from now on."""

    def install(answer) -> Answering:
        channel = Answering(renewals.get_channel("alipay"), answer)
        monkeypatch.setattr(renewals, "get_channel", lambda name: channel)
        return channel

    return install


def renewing_member(channel: str = "alipay") -> Membership:
    """An auto-renew member at the first attempt of the first renewal (reminded, announced)."""
    membership = join_vip(UserFactory(), PlanFactory(), channel=channel, auto_renew=True)
    travel_to(ready_for_renewal(membership))
    return membership


# --- finding: the first WeChat charge after a sign notification outside 07:00–22:00 --------------------------------


def test_a_wechat_member_who_signs_at_23_00_is_charged_at_07_00_within_the_first_signing_grace():
    travel_to(datetime(2027, 5, 11, 23, 0, tzinfo=clock.SHANGHAI))
    membership = join_vip(UserFactory(), PlanFactory(), channel="wechat", auto_renew=True)
    assert membership.status == Membership.Status.PENDING  # WeChat takes 申请扣款 07:00–22:00 only
    assert membership.agreement.status == Agreement.Status.ACTIVE
    play_until(datetime(2027, 5, 12, 7, 1, tzinfo=clock.SHANGHAI))
    membership.refresh_from_db()
    assert membership.status == Membership.Status.ACTIVE
    paid = Payment.objects.get(order__membership_attempt__charge__membership=membership)
    assert clock.local(paid.paid_at).strftime("%H:%M") == "07:00"
    assert paid.paid_at - membership.agreement.signed_at <= timedelta(hours=12)
    assert not AuditLog.objects.filter(action="membership.charge_failed").exists()


def test_the_next_charge_hours_are_now_inside_07_to_22_and_the_next_07_00_outside():
    at = lambda h, m=0, d=12: datetime(2027, 5, d, h, m, tzinfo=clock.SHANGHAI)  # noqa: E731
    assert schedule.next_charge_hours(at(21, 59)) == at(21, 59)
    assert schedule.next_charge_hours(at(22, 0)) == at(7, 0, d=13)
    assert schedule.next_charge_hours(at(6, 59)) == at(7, 0)


def test_a_membership_abandoned_after_its_first_charge_was_refused_leaves_no_signed_contract():
    user, plan = UserFactory(), PlanFactory()
    made = membership_services.subscribe(
        user=user,
        plan_code=plan.code,
        channel="wechat",
        auto_renew=True,
        consent=membership_services.ConsentContext(given=True, ip="127.0.0.1", user_agent="pytest"),
    )
    complete_at_channel(pay_redirect_url(order=made.order, client_ip="127.0.0.1"), member_ref=str(user.pk))
    contract = SandboxAgreement.objects.get(
        channel="wechat", external_no=made.membership.agreement.external_no
    )
    sandbox_agreements.set_balance_short(agreement_no=contract.agreement_no, short=True)
    settle()
    membership = Membership.objects.get(pk=made.membership.pk)
    assert membership.status == Membership.Status.ABANDONED
    assert membership.agreement.status == Agreement.Status.TERMINATED
    contract.refresh_from_db()
    assert contract.status != SandboxAgreement.Status.NORMAL  # unsigned at the channel too


# --- finding: an accepted charge is recorded and never sent again ---------------------------------------------------


def test_an_accepted_charge_is_recorded_and_not_sent_again_when_its_lease_runs_out(answering):
    membership = renewing_member()
    channel = answering(lambda no, fen: ChargeResult(Outcome.PENDING, message="ORDER_ACCEPTED"))
    assert renewals.renew_due_memberships() == 1
    attempt = ChargeAttempt.objects.get(charge__membership=membership, charge__period_index=1)
    assert attempt.outcome == ChargeAttempt.Outcome.PENDING
    clock.advance(seconds=int(renewals.CHARGE_LEASE.total_seconds()) + 60)
    renewals.renew_due_memberships()
    assert channel.sent == [attempt.order.order_no]  # 受理中，请勿重复发起
    assert Charge.objects.get(pk=attempt.charge_id).attempts == 1


def test_an_unanswered_charge_is_sent_again_under_its_own_number(answering):
    renewing_member()

    def lost(no, fen):
        raise TransportError("timed out")

    channel = answering(lost)
    renewals.renew_due_memberships()
    clock.advance(seconds=int(renewals.CHARGE_LEASE.total_seconds()) + 60)
    renewals.renew_due_memberships()
    assert len(channel.sent) == 2 and channel.sent[0] == channel.sent[1]
    assert (
        ChargeAttempt.objects.get(order__order_no=channel.sent[0]).outcome == ChargeAttempt.Outcome.UNANSWERED
    )


# --- finding: a given-up charge's trade is closed at the channel ----------------------------------------------------


def test_an_alipay_charge_left_waiting_10003_is_closed_after_its_window_and_can_never_be_paid(answering):
    membership = renewing_member()
    coming = schedule.coming_cycle(membership)

    def waiting(no, fen):  # alipay.trade.pay answers 10003: the trade is open, the buyer "still paying"
        trade = sandbox.open_trade(
            channel="alipay", out_trade_no=no, amount_fen=fen, subject="VIP", notify_url="", return_url=""
        )
        return ChargeResult(Outcome.PENDING, channel_trade_no=trade.trade_no, message="10003")

    channel = answering(waiting)
    play_until(coming.window_closes + renewals.UNFINISHED_WAIT + timedelta(hours=1))
    (order_no,) = channel.sent  # never sent again while it waited
    membership.refresh_from_db()
    assert membership.auto_renew is False
    assert Charge.objects.get(membership=membership, period_index=1).status == Charge.Status.FAILED
    trade = SandboxTrade.objects.get(channel="alipay", out_trade_no=order_no)
    assert trade.status == SandboxTrade.Status.CLOSED
    with pytest.raises(DomainError):
        sandbox.pay(trade=trade)
    assert AuditLog.objects.filter(action="membership.charge_closed_at_channel").count() == 1
    assert Payment.objects.filter(order__order_no=order_no).count() == 0
    trade_closing.close_given_up_trade({"order_no": order_no})  # asked again (an outbox retry): still closed
    trade.refresh_from_db()
    assert trade.status == SandboxTrade.Status.CLOSED


# --- finding: renewals.py keeps no re-exports ----------------------------------------------------------------------


def test_the_expiry_and_reminder_sweeps_live_in_their_own_modules_only():
    for name in ("expire_due_memberships", "next_expiry_due", "send_due_reminders", "next_reminder_due"):
        assert not hasattr(renewals, name), name


def test_a_wechat_contract_signed_after_its_membership_was_abandoned_is_unsigned_at_once():
    user, plan = UserFactory(), PlanFactory()
    made = membership_services.subscribe(
        user=user,
        plan_code=plan.code,
        channel="wechat",
        auto_renew=True,
        consent=membership_services.ConsentContext(given=True, ip="127.0.0.1", user_agent="pytest"),
    )
    sign_url = pay_redirect_url(order=made.order, client_ip="127.0.0.1")
    travel_to(clock.now() + timedelta(hours=25))
    settle()  # the expiry sweep abandons the unpaid first order
    assert Membership.objects.get(pk=made.membership.pk).status == Membership.Status.ABANDONED
    complete_at_channel(sign_url, member_ref=str(user.pk))
    settle()
    agreement = Agreement.objects.get(pk=made.membership.agreement.pk)
    assert agreement.status == Agreement.Status.TERMINATED
    contract = SandboxAgreement.objects.get(channel="wechat", external_no=agreement.external_no)
    assert contract.status != SandboxAgreement.Status.NORMAL
    assert not Payment.objects.filter(order__user=user).exists()
