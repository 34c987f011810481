"""A VIP price racing the immediate cancel that refunds its fee, on PostgreSQL (docs/rules.md#5-cancellation).

Checkout commits a VIP price only under the membership's row lock, and the cancel locks the member's unpaid
VIP-priced orders before it computes the refund. Whatever the interleaving, an order ends either priced and paid
before the cancel (its saving deducted from the refund), closed by the cancel, or priced after it at the list price.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import transaction

from kameng.core import locking
from kameng.membership import cancellation
from kameng.membership.models import Cancellation
from kameng.orders.models import Order
from tests.concurrency.test_lock_order import (
    WAIT,
    _in_thread,
    _wait_until_a_session_waits_on_a_lock,
    interleave,
    payment_notification,
)
from tests.factories import PlanFactory, UserFactory, join_vip, place_order, stocked_product

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
YEAR_FEE = 36500


def year_member():
    return join_vip(UserFactory(), PlanFactory(period="year", price_fen=YEAR_FEE, discount_percent=10))


def immediate_cancel(membership):
    return lambda: cancellation.cancel_membership(user=membership.user, mode="immediate").receipt_no


def checkout(membership, product):
    return lambda: place_order(membership.user, product, quantity=10).order_no


def test_a_checkout_waiting_on_a_refunding_cancel_gets_the_list_price(caplog):
    membership = year_member()
    product = stocked_product(keys=10, price_fen=1999)
    receipt_no, order_no = interleave(
        membership, immediate_cancel(membership), checkout(membership, product), caplog
    )
    order = Order.objects.get(order_no=order_no)
    assert (order.discount_fen, order.amount_fen) == (0, 19990)
    assert Cancellation.objects.get(receipt_no=receipt_no).refund_fen == YEAR_FEE


def test_a_refunding_cancel_waiting_on_a_vip_checkout_closes_the_order_it_priced(caplog):
    membership = year_member()
    product = stocked_product(keys=10, price_fen=1999)
    order_no, receipt_no = interleave(
        membership, checkout(membership, product), immediate_cancel(membership), caplog
    )
    order = Order.objects.get(order_no=order_no)
    assert order.discount_fen == 2000 and order.closed_reason == Order.ClosedReason.VIP_FEE_REFUNDED
    receipt = Cancellation.objects.get(receipt_no=receipt_no)
    assert [o["order_no"] for o in receipt.closed_orders] == [order_no]


def test_a_vip_order_paid_while_the_cancel_waits_is_deducted_from_the_refund_not_closed():
    membership = year_member()
    order = place_order(membership.user, stocked_product(keys=10, price_fen=1999), quantity=10)
    pay = payment_notification(order.order_no, order.amount_fen)
    held, go, done, commit = threading.Event(), threading.Event(), threading.Event(), threading.Event()

    def pay_holding_the_order():
        # The payment's own first lock is the order row: held, then the notification applied in the same
        # transaction while the cancel queues behind it.
        with transaction.atomic():
            locking.lock_one(Order.objects.filter(pk=order.pk))
            held.set()
            go.wait(WAIT)
            pay()
            done.set()
            commit.wait(WAIT)

    with ThreadPoolExecutor(max_workers=2) as pool:
        a = pool.submit(_in_thread(pay_holding_the_order))
        assert held.wait(WAIT)
        b = pool.submit(_in_thread(immediate_cancel(membership)))
        _wait_until_a_session_waits_on_a_lock()  # the cancel waits on the order row before quoting
        go.set()
        assert done.wait(WAIT), "the payment waited on the cancel"
        commit.set()
        a.result(timeout=WAIT)
        receipt_no = b.result(timeout=WAIT)

    order.refresh_from_db()
    receipt = Cancellation.objects.get(receipt_no=receipt_no)
    assert order.status == Order.Status.DELIVERED and not order.closed_reason
    assert receipt.quote["deducted_fen"] == 2000 and receipt.refund_fen <= YEAR_FEE - 2000
