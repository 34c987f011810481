"""A checkout refused by a member limit (3 unpaid orders, 20 reserved keys) keeps the member on the product page: the
reason on top of the form, the quantity and channel they chose kept, a link to their orders; still a 429."""

import re

import pytest
from django.test import Client

from kameng.orders.models import Order
from tests.factories import UserFactory, place_order, stocked_product

pytestmark = pytest.mark.django_db


def member_holding(product, *orders: int) -> Client:
    buyer = UserFactory()
    for quantity in orders:
        place_order(buyer, product, quantity=quantity)
    client = Client()
    client.force_login(buyer)
    return client


def checkout(client: Client, product, quantity: int, channel: str, language: str = "zh-hans"):
    client.cookies["django_language"] = language
    return client.post(
        "/orders/checkout/", {"sku": product.sku, "quantity": str(quantity), "channel": channel}
    )


def checkout_form(html: str) -> str:
    match = re.search(r'<form[^>]*action="/orders/checkout/".*?</form>', html, re.S)
    assert match, "the product page's checkout form is shown again"
    return match.group(0)


def test_a_fourth_unpaid_order_shows_the_product_page_with_the_reason_on_the_form():
    product = stocked_product(keys=10)
    refused = checkout(member_holding(product, 1, 1, 1), product, 2, "wechat")
    assert refused.status_code == 429 and refused["Retry-After"]
    form = checkout_form(refused.content.decode())
    assert form.index("你已有 3 笔待支付订单") < form.index('name="quantity"')
    assert 'href="/orders/"' in form
    assert Order.objects.count() == 3


def test_the_refused_checkout_keeps_the_quantity_and_channel():
    product = stocked_product(keys=10)
    form = checkout_form(checkout(member_holding(product, 1, 1, 1), product, 2, "wechat").content.decode())
    assert re.search(r'name="quantity" value="2"', form)
    assert '<option value="wechat" selected>' in form and '<option value="alipay">' in form


def test_too_many_reserved_keys_shows_the_product_page_with_the_reason():
    product = stocked_product(keys=40)
    refused = checkout(member_holding(product, 15), product, 6, "alipay")
    assert refused.status_code == 429
    form = checkout_form(refused.content.decode())
    assert "待支付订单最多占用 20 件商品,你已占用 15 件" in form and 'name="quantity" value="6"' in form
    assert "我的订单:去付款,或等待未付款的订单过期" in form


def test_the_refused_checkout_reads_in_english():
    product = stocked_product(keys=10)
    refused = checkout(member_holding(product, 1, 1, 1), product, 1, "alipay", language="en")
    form = checkout_form(refused.content.decode())
    assert "You already have 3 unpaid orders" in form
    assert "My orders: pay one, or let the unpaid ones expire" in form
