"""Active status queries (kameng.payments.queries): the Alipay adapter's trade query, close and refund query against
the sandbox, and the sweep's rules: when it asks, how it backs off, how much it does per run, how it closes an
expired trade, and how a refusal (a query's CLOSED or a failed-payment notification) reaches the membership."""

import json
from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.db import transaction
from django.test import Client

from kameng.core import clock
from kameng.core.models import AuditLog
from kameng.membership import renewals, schedule
from kameng.membership.models import Charge, ChargeAttempt, Membership
from kameng.orders.models import Order
from kameng.payments import queries, services
from kameng.payments.channels import alipay as alipay_adapter
from kameng.payments.channels.base import (
    ChannelEvent,
    EventKind,
    Outcome,
    RefundResult,
    TradeState,
    TradeStatus,
)
from kameng.payments.channels.errors import ChannelProtocolError
from kameng.payments.channels.registry import get_channel
from kameng.payments.models import ChannelQuery, NotificationLog, Payment, Refund
from kameng.payments.selectors import pay_redirect_url
from kameng.sandbox import services as sandbox
from kameng.sandbox.models import SandboxTrade
from tests.factories import (
    PlanFactory,
    UserFactory,
    join_vip,
    open_cashier,
    place_order,
    play_until,
    stocked_product,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def notifications_off(settings):
    settings.KAMENG_SANDBOX_NOTIFY = False


def alipay():
    return get_channel("alipay")


def cashier_opened() -> Order:
    order = place_order(UserFactory(), stocked_product(keys=2, price_fen=1999))
    open_cashier(order)
    return order


def pay_at_channel(order: Order) -> None:
    assert Client().post(f"/sandbox/pay/{order.order_no}").status_code == 200


def gateway_calls(monkeypatch) -> list[str]:
    """The Alipay methods the shop calls, in order."""
    real, seen = alipay_adapter.AlipayChannel.call, []

    def counting(self, method, biz_content, **kwargs):
        seen.append(method)
        return real(self, method, biz_content, **kwargs)

    monkeypatch.setattr(alipay_adapter.AlipayChannel, "call", counting)
    return seen


def minutes(n: float) -> None:
    clock.advance(seconds=int(n * 60))


# --- the Alipay adapter -------------------------------------------------------------------------------------------


def test_the_adapter_reads_each_trade_state_from_alipay_trade_query():
    order = place_order(UserFactory(), stocked_product(keys=1, price_fen=1999))
    assert alipay().query_trade(out_trade_no=order.order_no).state == TradeState.NOT_FOUND
    open_cashier(order)
    assert alipay().query_trade(out_trade_no=order.order_no).state == TradeState.WAITING
    pay_at_channel(order)
    paid = alipay().query_trade(out_trade_no=order.order_no)
    trade = SandboxTrade.objects.get(out_trade_no=order.order_no)
    assert (paid.state, paid.amount_fen, paid.channel_trade_no) == (TradeState.PAID, 1999, trade.trade_no)


def test_the_adapter_closes_a_waiting_trade_and_then_reads_it_closed():
    order = cashier_opened()
    assert alipay().close_trade(out_trade_no=order.order_no) is True
    assert alipay().query_trade(out_trade_no=order.order_no).state == TradeState.CLOSED


def test_closing_a_paid_trade_is_refused_and_a_trade_never_created_counts_as_closed():
    paid, never = cashier_opened(), place_order(UserFactory(), stocked_product(keys=1))
    pay_at_channel(paid)
    assert alipay().close_trade(out_trade_no=paid.order_no) is False
    assert alipay().close_trade(out_trade_no=never.order_no) is True


def test_the_adapter_reads_a_refund_made_and_one_not_made():
    order = cashier_opened()
    pay_at_channel(order)
    sandbox.refund(channel="alipay", out_trade_no=order.order_no, out_refund_no="R-MADE", amount_fen=1999)
    made = alipay().query_refund(out_trade_no=order.order_no, out_refund_no="R-MADE")
    not_made = alipay().query_refund(out_trade_no=order.order_no, out_refund_no="R-NOT")
    assert (made.status, not_made.status) == (Outcome.SUCCEEDED, Outcome.FAILED)


def test_a_query_answer_about_another_trade_is_refused(monkeypatch):
    order, other = cashier_opened(), cashier_opened()
    real = alipay_adapter.AlipayChannel.call
    monkeypatch.setattr(
        alipay_adapter.AlipayChannel,
        "call",
        lambda self, method, biz, **kw: real(self, method, {"out_trade_no": other.order_no}),
    )
    with pytest.raises(ChannelProtocolError):
        alipay().query_trade(out_trade_no=order.order_no)


# --- the sweep ------------------------------------------------------------------------------------------------------


def test_an_order_is_not_asked_about_before_a_few_minutes(monkeypatch):
    cashier_opened()
    calls = gateway_calls(monkeypatch)
    minutes(2)
    assert queries.query_due() == 0 and calls == []


def test_a_paid_order_is_delivered_by_the_sweep_once():
    order = cashier_opened()
    pay_at_channel(order)
    minutes(4)
    assert queries.query_due() == 1
    minutes(30)
    queries.query_due()
    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED and Payment.objects.filter(order=order).count() == 1


def test_an_unpaid_order_is_asked_again_with_a_growing_back_off(monkeypatch):
    cashier_opened()
    calls = gateway_calls(monkeypatch)
    minutes(3.1)
    queries.query_due()  # asked; next in 1 minute
    minutes(0.9)
    queries.query_due()  # not yet
    minutes(0.2)
    queries.query_due()  # asked; next in 2 minutes
    minutes(1.5)
    queries.query_due()  # not yet
    assert calls == ["alipay.trade.query", "alipay.trade.query"]


def test_a_run_asks_at_most_its_limit(monkeypatch):
    for _ in range(3):
        cashier_opened()
    calls = gateway_calls(monkeypatch)
    minutes(4)
    assert queries.query_due(limit=2) == 2 and len(calls) == 2
    assert queries.query_due(limit=2) == 1


def test_an_expired_unpaid_order_has_its_trade_closed_at_the_channel():
    order = cashier_opened()
    minutes(16)
    queries.query_due()
    assert SandboxTrade.objects.get(out_trade_no=order.order_no).status == SandboxTrade.Status.CLOSED
    check = ChannelQuery.objects.get(order=order)
    assert check.closed_at_channel is not None and check.next_query_at is None
    closed = AuditLog.objects.get(action="payment.trade_closed_at_channel")
    assert closed.source == AuditLog.Source.QUERY
    assert Client().post(f"/sandbox/pay/{order.order_no}").status_code == 409  # too late: the trade is closed


def test_a_payment_made_just_before_the_close_is_recorded_instead():
    order = cashier_opened()
    minutes(14)
    pay_at_channel(order)
    minutes(2)
    queries.query_due()
    order.refresh_from_db()
    assert order.paid_at is not None and Payment.objects.filter(order=order).count() == 1
    assert SandboxTrade.objects.get(out_trade_no=order.order_no).status == SandboxTrade.Status.PAID


def test_a_trade_created_and_paid_after_the_order_expired_is_still_recorded(monkeypatch):
    # The buyer never reached the cashier before the expiry, so the channel knows no trade; a cashier page opened
    # in the last seconds creates and pays it a moment later. The first "no such trade" must not end the asking.
    order = place_order(UserFactory(), stocked_product(keys=2, price_fen=1999))
    answers = iter(
        [
            TradeStatus(TradeState.NOT_FOUND, message="ACQ.TRADE_NOT_EXIST"),
            TradeStatus(TradeState.PAID, channel_trade_no="2026LATE", amount_fen=1999),
        ]
    )
    monkeypatch.setattr(alipay_adapter.AlipayChannel, "query_trade", lambda self, **kw: next(answers))
    minutes(16)
    queries.query_due()
    assert ChannelQuery.objects.get(order=order).settled_at is None
    minutes(30)
    queries.query_due()
    assert Payment.objects.filter(order=order, channel_trade_no="2026LATE").exists()


def test_a_trade_never_created_is_settled_once_the_orders_expiry_is_well_past(monkeypatch):
    order = place_order(UserFactory(), stocked_product(keys=2, price_fen=1999))
    minutes(15 + queries.NOT_FOUND_FINAL_AFTER.total_seconds() / 60 + 1)
    queries.query_due()
    check = ChannelQuery.objects.get(order=order)
    assert check.last_state == TradeState.NOT_FOUND and check.settled_at is not None


def test_a_paid_answer_for_another_amount_is_not_counted(monkeypatch):
    order = cashier_opened()
    monkeypatch.setattr(
        alipay_adapter.AlipayChannel,
        "query_trade",
        lambda self, **kw: TradeStatus(TradeState.PAID, channel_trade_no="2026X", amount_fen=1),
    )
    minutes(4)
    queries.query_due()
    assert not Payment.objects.filter(order=order).exists()
    assert ChannelQuery.objects.get(order=order).last_message.startswith("amount 1")


# --- refusals: a query's CLOSED, a failed-payment notification -------------------------------------------------------


def answer_lost(self, **kwargs):
    raise ChannelProtocolError("the answer was lost on the way back")


def unanswered_renewal(monkeypatch, settings) -> ChargeAttempt:
    """A renewal charge sent to the channel whose answer never came back."""
    settings.KAMENG_SANDBOX_NOTIFY = True
    membership = join_vip(UserFactory(), PlanFactory(price_fen=3000), auto_renew=True)
    settings.KAMENG_SANDBOX_NOTIFY = False
    play_until(
        schedule.coming_cycle(membership).first_attempt_at - timedelta(minutes=1)
    )  # reminded, announced
    minutes(2)
    with monkeypatch.context() as patched:
        patched.setattr(alipay_adapter.AlipayChannel, "charge_agreement", answer_lost)
        renewals.renew_due_memberships()
    return ChargeAttempt.objects.select_related("order", "charge__membership").get(
        charge__membership=membership, charge__period_index=1
    )


def test_a_renewal_charge_the_channel_closed_is_a_refusal(monkeypatch, settings):
    attempt = unanswered_renewal(monkeypatch, settings)
    monkeypatch.setattr(
        alipay_adapter.AlipayChannel,
        "query_trade",
        lambda self, **kw: TradeStatus(TradeState.CLOSED, message="TRADE_CLOSED"),
    )
    minutes(4)
    queries.query_due()
    attempt.refresh_from_db()
    assert attempt.outcome == ChargeAttempt.Outcome.FAILED
    # A refused attempt takes no day paid for: still active, retried the next day of its window.
    assert Membership.objects.get(pk=attempt.charge.membership_id).status == Membership.Status.ACTIVE
    assert Charge.objects.get(pk=attempt.charge_id).status == Charge.Status.PENDING
    assert AuditLog.objects.get(action="membership.charge_failed").source == AuditLog.Source.QUERY


def test_a_failed_payment_notification_is_the_same_refusal(monkeypatch, settings):
    attempt = unanswered_renewal(monkeypatch, settings)
    event = ChannelEvent(
        kind=EventKind.PAYMENT_FAILED, dedupe_key="N-FAIL-1", out_trade_no=attempt.order.order_no
    )
    monkeypatch.setattr(alipay_adapter.AlipayChannel, "parse_notification", lambda self, **kw: event)
    reply = services.process_notification(channel="alipay", headers={}, body=b"notify")
    assert reply.body == b"success"
    attempt.refresh_from_db()
    assert attempt.outcome == ChargeAttempt.Outcome.FAILED
    assert Charge.objects.get(pk=attempt.charge_id).status == Charge.Status.PENDING  # retried in its window
    failed = AuditLog.objects.get(action="membership.charge_failed")
    assert failed.source == AuditLog.Source.CHANNEL
    services.process_notification(channel="alipay", headers={}, body=b"notify")  # delivered again
    assert AuditLog.objects.filter(action="membership.charge_failed").count() == 1


def test_a_failed_payment_notification_for_an_order_that_charges_nothing_is_refused(monkeypatch):
    order = cashier_opened()
    event = ChannelEvent(kind=EventKind.PAYMENT_FAILED, dedupe_key="N-FAIL-2", out_trade_no=order.order_no)
    monkeypatch.setattr(alipay_adapter.AlipayChannel, "parse_notification", lambda self, **kw: event)
    reply = services.process_notification(channel="alipay", headers={}, body=b"notify")
    assert reply.body == b"failure"
    assert NotificationLog.objects.get().accepted is False


def test_an_unconfirmed_refund_made_at_the_channel_is_confirmed_once():
    order = cashier_opened()
    pay_at_channel(order)
    minutes(4)
    queries.query_due()
    with transaction.atomic():
        refund = services.request_refund(
            payment=Payment.objects.get(order=order), amount_fen=500, reason=Refund.Reason.DUPLICATE_PAYMENT
        )
    sandbox.refund(
        channel="alipay", out_trade_no=order.order_no, out_refund_no=refund.refund_no, amount_fen=500
    )
    minutes(4)
    queries.query_due()
    minutes(60)
    queries.query_due()
    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert AuditLog.objects.filter(action="refund.succeeded").count() == 1


def test_a_refund_the_channel_reports_for_another_amount_is_not_confirmed(monkeypatch):
    order = cashier_opened()
    pay_at_channel(order)
    minutes(4)
    queries.query_due()
    with transaction.atomic():
        refund = services.request_refund(
            payment=Payment.objects.get(order=order), amount_fen=500, reason=Refund.Reason.DUPLICATE_PAYMENT
        )
    monkeypatch.setattr(
        alipay_adapter.AlipayChannel,
        "query_refund",
        lambda self, **kw: RefundResult(Outcome.SUCCEEDED, channel_refund_no="2026X", amount_fen=400),
    )
    minutes(4)
    queries.query_due()
    refund.refresh_from_db()
    assert refund.status == Refund.Status.PENDING
    check = ChannelQuery.objects.get(refund=refund)
    assert check.settled_at is None and "400" in check.last_message


def test_the_cashier_link_carries_the_orders_expiry_as_the_trades():
    order = place_order(UserFactory(), stocked_product(keys=2, price_fen=1999))
    params = dict(parse_qsl(urlsplit(pay_redirect_url(order=order, client_ip="127.0.0.1")).query))
    expected = clock.local(order.expires_at).strftime("%Y-%m-%d %H:%M:%S")
    assert json.loads(params["biz_content"])["time_expire"] == expected
