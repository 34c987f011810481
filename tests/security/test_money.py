"""Attacks on the shop's money (issue 13, "Money"), replayed as an outsider would run them. Each must stay closed.

1. A VIP price survives a full refund of the VIP fee: order at the VIP price, leave it unpaid, cancel immediately
   (full refund: "no saving used"), then pay the order and get the cards at the VIP price.
2. A refund quote locks in a full refund after savings are used: take a quote in the 48-hour window, buy at the
   VIP price, cancel with the old quote.
The detailed rules are tested in kameng/membership/tests/test_vip_price_after_refund.py and test_stale_quote.py;
the races on PostgreSQL in tests/concurrency/test_vip_price_races.py.
"""

import re

import pytest
from django.test import Client

from kameng.core import clock
from kameng.membership.models import Cancellation
from kameng.orders.models import Order
from kameng.payments.models import Refund
from tests.factories import (
    PlanFactory,
    UserFactory,
    api_client,
    join_vip,
    open_cashier,
    pay_in_sandbox,
    post_json,
    settle,
    stocked_product,
)

pytestmark = pytest.mark.django_db
YEAR_FEE = 36500


def year_member():
    user = UserFactory()
    join_vip(user, PlanFactory(name="年卡", period="year", price_fen=YEAR_FEE, discount_percent=10))
    return user


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def quote_id_on(page: str) -> str:
    return re.search(r'name="quote_id" value="([^"]+)"', page).group(1)


def test_api_vip_order_left_unpaid_then_paid_after_a_full_refund_gets_no_cards_and_its_money_back():
    user = year_member()
    product = stocked_product(keys=10, price_fen=1999)
    client = api_client(user)
    order_no = post_json(
        client, "/api/v1/orders", {"sku": product.sku, "quantity": 10, "channel": "alipay"}
    ).json()["order_no"]
    open_cashier(Order.objects.get(order_no=order_no))
    assert (
        post_json(client, "/api/v1/membership/cancel", {"mode": "immediate"}).json()["refund_fen"] == YEAR_FEE
    )
    pay_in_sandbox(Order.objects.get(order_no=order_no))
    settle()
    seen = client.get(f"/api/v1/orders/{order_no}").json()
    assert seen["cards"] == [] and seen["status"] == "refunded"
    assert Refund.objects.get(payment__order__order_no=order_no).status == Refund.Status.SUCCEEDED


def test_page_vip_order_left_unpaid_then_paid_after_a_full_refund_gets_no_cards_and_its_money_back():
    user = year_member()
    product = stocked_product(keys=10, price_fen=1999)
    client = logged_in(user)
    client.post("/orders/checkout/", {"sku": product.sku, "quantity": "10", "channel": "alipay"})
    order = Order.objects.get(user=user, kind=Order.Kind.GOODS)
    open_cashier(order)
    page = client.get("/member/cancel/").content.decode()
    client.post("/member/cancel/", {"mode": "immediate", "quote_id": quote_id_on(page)})
    assert Cancellation.objects.get().refund_fen == YEAR_FEE
    pay_in_sandbox(order)
    settle()
    assert 'class="secret"' not in client.get(f"/orders/{order.order_no}/").content.decode()
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED


def test_api_a_full_refund_quote_cannot_be_cashed_after_buying_at_the_vip_price():
    user = year_member()
    client = api_client(user)
    q1 = client.get("/api/v1/membership/refund-quote").json()
    assert q1["refund_fen"] == YEAR_FEE
    clock.advance(seconds=60)
    order = post_json(
        client, "/api/v1/orders", {"sku": stocked_product(keys=10).sku, "quantity": 10, "channel": "alipay"}
    )
    pay_in_sandbox(Order.objects.get(order_no=order.json()["order_no"]))
    cancel = post_json(client, "/api/v1/membership/cancel", {"mode": "immediate", "quote_id": q1["quote_id"]})
    assert cancel.status_code == 409 and cancel.json()["error"]["code"] == "stale_quote"
    assert cancel.json()["error"]["quote"]["refund_fen"] < YEAR_FEE
    assert not Cancellation.objects.exists()


def test_page_a_full_refund_quote_cannot_be_cashed_after_buying_at_the_vip_price():
    user = year_member()
    client = logged_in(user)
    q1 = quote_id_on(client.get("/member/cancel/").content.decode())
    client.post(
        "/orders/checkout/", {"sku": stocked_product(keys=10).sku, "quantity": "10", "channel": "alipay"}
    )
    pay_in_sandbox(Order.objects.get(user=user, kind=Order.Kind.GOODS))
    refused = client.post("/member/cancel/", {"mode": "immediate", "quote_id": q1})
    assert refused.status_code == 409 and 'id="stale-quote"' in refused.content.decode()
    assert not Cancellation.objects.exists()
