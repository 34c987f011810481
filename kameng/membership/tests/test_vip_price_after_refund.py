"""No member ends with both the refund of a period's fee and that period's VIP price (docs/rules.md#5-cancellation).

The attack (issue 13, item 1): a member joins 年卡, orders 10 cards at the VIP price and leaves the order unpaid,
cancels immediately inside the 48-hour window ("no saving used": the unpaid order is not one) and gets the whole
fee back, then pays the order and receives the cards at the VIP price. An immediate cancel that refunds money now
closes such orders (keys back to stock, listed on the receipt); a payment still made for one is refunded in full.
"""

import re

import pytest
from django.test import Client

from kameng.core import clock
from kameng.inventory.models import CardKey
from kameng.membership import cancellation
from kameng.membership.models import Cancellation, Membership
from kameng.orders import services as orders
from kameng.orders.models import Order
from kameng.payments.models import Refund
from kameng.support import services as support
from tests.factories import (
    PlanFactory,
    UserFactory,
    api_client,
    join_vip,
    open_cashier,
    pay_in_sandbox,
    place_order,
    post_json,
    settle,
    stocked_product,
)

pytestmark = pytest.mark.django_db
YEAR_FEE = 36500
CARD = 1999  # 10 cards: 19990 at the list price, 17990 at the VIP price (9折), a saving of 2000


def year_member() -> tuple:
    user = UserFactory()
    membership = join_vip(
        user, PlanFactory(name="年卡", period="year", price_fen=YEAR_FEE, discount_percent=10)
    )
    return user, membership


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def available_keys(product) -> int:
    return CardKey.objects.filter(product=product, status=CardKey.Status.AVAILABLE).count()


def test_a_vip_order_paid_after_the_fee_was_refunded_in_full_is_refunded_and_delivers_nothing():
    user, _ = year_member()
    product = stocked_product(keys=10, price_fen=CARD)
    client = api_client(user)
    created = post_json(client, "/api/v1/orders", {"sku": product.sku, "quantity": 10, "channel": "alipay"})
    order_no = created.json()["order_no"]
    assert created.json()["amount_fen"] == 17990 and created.json()["discount_fen"] == 2000
    open_cashier(
        Order.objects.get(order_no=order_no)
    )  # the channel's cashier stays open in the member's phone
    clock.advance(seconds=3600)
    cancelled = post_json(client, "/api/v1/membership/cancel", {"mode": "immediate"}).json()
    assert cancelled["refund_fen"] == YEAR_FEE
    assert available_keys(product) == 10  # the order's keys went back: stock would allow a delivery

    pay_in_sandbox(Order.objects.get(order_no=order_no))
    settle()

    seen = client.get(f"/api/v1/orders/{order_no}").json()
    assert seen["status"] == "refunded" and seen["cards"] == []
    refund = Refund.objects.get(payment__order__order_no=order_no)
    assert (refund.amount_fen, refund.reason, refund.status) == (17990, "order_closed", "succeeded")
    assert available_keys(product) == 10


def test_the_cancel_answer_lists_the_vip_orders_it_closed():
    user, _ = year_member()
    product = stocked_product(keys=10, price_fen=CARD)
    client = api_client(user)
    order_no = post_json(
        client, "/api/v1/orders", {"sku": product.sku, "quantity": 10, "channel": "alipay"}
    ).json()["order_no"]
    cancelled = post_json(client, "/api/v1/membership/cancel", {"mode": "immediate"}).json()
    assert cancelled["closed_orders"] == [
        {"order_no": order_no, "subject": f"{product.name} × 10", "amount_fen": 17990, "discount_fen": 2000}
    ]
    order = Order.objects.get(order_no=order_no)
    assert (order.status, order.closed_reason) == (Order.Status.EXPIRED, Order.ClosedReason.VIP_FEE_REFUNDED)


def test_on_the_pages_the_quote_warns_the_receipt_lists_and_the_late_payment_comes_back():
    user, _ = year_member()
    product = stocked_product(keys=10, price_fen=CARD)
    client = logged_in(user)
    checkout = client.post("/orders/checkout/", {"sku": product.sku, "quantity": "10", "channel": "alipay"})
    assert checkout.status_code == 302
    order = Order.objects.get(user=user, kind=Order.Kind.GOODS)
    assert order.discount_fen == 2000
    open_cashier(order)

    page = client.get("/member/cancel/").content.decode()
    assert 'id="closes-orders"' in page and order.order_no in page
    quote_id = re.search(r'name="quote_id" value="([^"]+)"', page).group(1)
    done = client.post("/member/cancel/", {"mode": "immediate", "quote_id": quote_id})
    assert done.status_code == 302
    receipt = client.get(done["Location"]).content.decode()
    assert 'id="closed-orders"' in receipt and order.order_no in receipt

    pay_in_sandbox(order)
    settle()
    detail = client.get(f"/orders/{order.order_no}/").content.decode()
    assert 'class="secret"' not in detail and 'id="order-closed"' in detail
    assert Refund.objects.get(payment__order=order).status == Refund.Status.SUCCEEDED


def test_an_expired_unpaid_vip_order_is_closed_too_and_its_late_payment_refunded():
    user, _ = year_member()
    product = stocked_product(keys=10, price_fen=CARD)
    order = place_order(user, product, quantity=10)
    open_cashier(order)
    clock.advance(seconds=16 * 60)
    orders.expire_due_orders()  # expired, but a late payment would still be delivered while stock allows
    receipt = cancellation.cancel_membership(user=user, mode="immediate")
    assert receipt.refund_fen == YEAR_FEE and [o["order_no"] for o in receipt.closed_orders] == [
        order.order_no
    ]

    pay_in_sandbox(order)
    settle()
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED and available_keys(product) == 10


def test_a_pro_rata_refund_closes_the_unpaid_vip_orders_as_well():
    user, _ = year_member()
    product = stocked_product(keys=10, price_fen=CARD)
    clock.advance(seconds=30 * 86400)  # past the window: part of the fee comes back
    order = place_order(user, product, quantity=10)
    receipt = cancellation.cancel_membership(user=user, mode="immediate")
    assert receipt.quote["rule"] == "pro_rata" and 0 < receipt.refund_fen < YEAR_FEE
    order.refresh_from_db()
    assert order.closed_reason == Order.ClosedReason.VIP_FEE_REFUNDED and available_keys(product) == 10


def test_a_support_approval_that_refunds_closes_the_unpaid_vip_orders():
    user, membership = year_member()
    product = stocked_product(keys=10, price_fen=CARD)
    order = place_order(user, product, quantity=10)
    proof = Order.objects.get(user=user, kind=Order.Kind.MEMBERSHIP).order_no
    ticket = support.file_ticket(user=user, category="refund", order_no=proof, reason="误购")
    support.approve(agent=UserFactory(role="support"), ticket_no=ticket.ticket_no, mode="immediate")
    receipt = Cancellation.objects.get(membership=membership)
    assert receipt.source == "support" and receipt.refund_fen == YEAR_FEE
    assert [o["order_no"] for o in receipt.closed_orders] == [order.order_no]


def test_end_of_period_keeps_the_vip_price_to_the_period_end_and_closes_nothing():
    user, membership = year_member()
    product = stocked_product(keys=20, price_fen=CARD)
    unpaid = place_order(user, product, quantity=10)
    open_cashier(unpaid)
    receipt = cancellation.cancel_membership(user=user, mode="end_of_period")
    assert receipt.refund_fen == 0 and receipt.closed_orders == []

    pay_in_sandbox(unpaid)
    unpaid.refresh_from_db()
    assert unpaid.status == Order.Status.DELIVERED and unpaid.amount_fen == 17990
    assert place_order(user, product, quantity=1).discount_fen == 200  # VIP price until the period ends
    membership.refresh_from_db()
    assert membership.status == Membership.Status.ACTIVE


def test_an_immediate_cancel_that_refunds_nothing_leaves_the_unpaid_orders_alone():
    user = UserFactory()
    join_vip(user, PlanFactory(period="lifetime", price_fen=29800, discount_percent=10))
    clock.advance(seconds=49 * 3600)  # a lifetime plan without a penalty: nothing back after the window
    order = place_order(user, stocked_product(keys=10, price_fen=CARD), quantity=10)
    receipt = cancellation.cancel_membership(user=user, mode="immediate")
    assert receipt.refund_fen == 0 and receipt.closed_orders == []
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT and not order.closed_reason


def test_a_vip_order_paid_before_the_cancel_is_deducted_and_kept():
    user, _ = year_member()
    product = stocked_product(keys=10, price_fen=CARD)
    clock.advance(seconds=30 * 86400)
    paid = place_order(user, product, quantity=10)
    pay_in_sandbox(paid)
    receipt = cancellation.cancel_membership(user=user, mode="immediate")
    assert receipt.quote["deducted_fen"] == 2000 and receipt.closed_orders == []
    paid.refresh_from_db()
    assert paid.status == Order.Status.DELIVERED
