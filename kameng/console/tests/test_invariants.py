"""The invariant checks pass on a sound shop and name each kind of damage when the data is broken."""

import io

import pytest
from django.core.management import CommandError, call_command

from kameng.console.invariants import find_violations
from kameng.inventory.models import CardKey
from kameng.membership import cancellation, vip_price
from kameng.membership.models import Charge
from kameng.orders.models import Order
from kameng.payments.models import LedgerEntry, LedgerLine, Payment
from kameng.sandbox.models import SandboxTrade
from tests.factories import (
    PlanFactory,
    UserFactory,
    advance_days,
    join_vip,
    open_cashier,
    pay_in_sandbox,
    place_order,
    settle,
    stocked_product,
)

pytestmark = pytest.mark.django_db


def _sold_order(quantity: int = 1) -> Order:
    order = place_order(UserFactory(), stocked_product(keys=3), quantity=quantity)
    open_cashier(order)
    pay_in_sandbox(order)
    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED
    return order


def test_a_sound_shop_breaks_no_promise():
    _sold_order(quantity=2)
    join_vip(UserFactory(), PlanFactory(), auto_renew=True)
    advance_days(31)
    settle()
    assert find_violations() == {}
    out = io.StringIO()
    call_command("check_invariants", stdout=out)
    assert '"violations": {}' in out.getvalue()


@pytest.mark.breaks_invariants("delivered_orders_with_wrong_key_count")
def test_a_key_moved_to_a_second_order_is_found():
    first, second = _sold_order(), _sold_order()
    CardKey.objects.filter(order=first).update(order=second)
    assert sorted(find_violations()["delivered_orders_with_wrong_key_count"]) == sorted(
        [first.order_no, second.order_no]
    )


@pytest.mark.breaks_invariants("unbalanced_ledger_entries")
def test_an_unbalanced_ledger_entry_is_found_and_the_command_fails():
    _sold_order()
    entry = LedgerEntry.objects.first()
    LedgerLine.objects.create(entry=entry, account="asset:channel:alipay", amount_fen=1)
    assert find_violations()["unbalanced_ledger_entries"] == [entry.reference]
    with pytest.raises(CommandError, match="unbalanced_ledger_entries"):
        call_command("check_invariants", stdout=io.StringIO())


def test_money_the_channel_took_without_our_record_is_found():
    order = _sold_order()
    Payment.objects.filter(order=order).update(channel_trade_no="SOMETHING-ELSE")
    trade = SandboxTrade.objects.get(out_trade_no=order.order_no)
    assert find_violations()["channel_payments_not_recorded"] == [trade.out_trade_no]


@pytest.mark.breaks_invariants("periods_paid_twice")
def test_a_period_paid_twice_is_found():
    membership = join_vip(UserFactory(), PlanFactory(), auto_renew=True)
    first = Charge.objects.get(membership=membership, period_index=0)
    extra = _sold_order()
    first.tries.create(order=extra, created_at=first.created_at)
    assert find_violations()["periods_paid_twice"] == [f"{membership.pk}#0"]


def _vip_order_paid_after_an_immediate_cancel(monkeypatch, *, mode: str) -> Order:
    """A member leaves a VIP-priced order unpaid, cancels, then pays it; with the cancel's closing of such orders
    switched off (as before issue 13), the payment delivers the cards at the VIP price."""
    monkeypatch.setattr(vip_price, "close_vip_orders", lambda **kwargs: [])
    user = UserFactory()
    join_vip(user, PlanFactory(price_fen=3000, discount_percent=10))
    order = place_order(user, stocked_product(keys=3), quantity=2)
    open_cashier(order)
    cancellation.cancel_membership(user=user, mode=mode)
    pay_in_sandbox(order)
    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED and order.discount_fen > 0
    return order


@pytest.mark.breaks_invariants("vip_price_kept_after_fee_refunded")
def test_a_vip_price_kept_after_the_fee_was_refunded_is_found(monkeypatch):
    order = _vip_order_paid_after_an_immediate_cancel(monkeypatch, mode="immediate")
    assert find_violations()["vip_price_kept_after_fee_refunded"] == [order.order_no]


def test_a_vip_price_kept_after_an_end_of_period_cancel_breaks_no_promise(monkeypatch):
    _vip_order_paid_after_an_immediate_cancel(monkeypatch, mode="end_of_period")
    assert find_violations() == {}


def test_a_vip_order_paid_before_a_refunding_cancel_breaks_no_promise():
    user = UserFactory()
    join_vip(user, PlanFactory(price_fen=3000, discount_percent=10))
    pay_in_sandbox(place_order(user, stocked_product(keys=3)))  # its saving is deducted from the refund
    advance_days(3)
    assert cancellation.cancel_membership(user=user, mode="immediate").refund_fen > 0
    assert find_violations() == {}
