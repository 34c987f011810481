"""An unpaid VIP-priced order closed by the member's immediate cancel reads as closed, not expired, wherever its status
shows (its page, the orders list), and its pay link says it was closed by the cancellation and will not be charged,
in Chinese and English. The API keeps `status` = `expired` and says why in `closed_reason`."""

import pytest
from django.test import Client

from kameng.membership import cancellation
from kameng.orders.models import Order
from tests.factories import PlanFactory, UserFactory, api_client, join_vip, place_order, stocked_product

pytestmark = pytest.mark.django_db


def closed_vip_order() -> Order:
    user = UserFactory()
    join_vip(user, PlanFactory(name="年卡", period="year", price_fen=36500, discount_percent=10))
    order = place_order(user, stocked_product(keys=10, price_fen=1999), quantity=10)
    cancellation.cancel_membership(user=user, mode="immediate")
    order.refresh_from_db()
    assert order.closed_reason == Order.ClosedReason.VIP_FEE_REFUNDED
    return order


def buyer(order: Order, language: str = "zh-hans") -> Client:
    client = Client()
    client.force_login(order.user)
    client.cookies["django_language"] = language
    return client


def test_the_closed_order_page_says_closed_not_expired():
    order = closed_vip_order()
    page = buyer(order).get(f"/orders/{order.order_no}/").content.decode()
    assert "状态: 已关闭(会员费已退款)" in page
    assert "已过期" not in page


def test_the_orders_list_says_closed_not_expired():
    order = closed_vip_order()
    page = buyer(order).get("/orders/").content.decode()
    assert "已关闭(会员费已退款)" in page and "已过期" not in page


def test_the_closed_order_reads_closed_in_english():
    order = closed_vip_order()
    client = buyer(order, "en")
    assert "Closed (membership fee refunded)" in client.get(f"/orders/{order.order_no}/").content.decode()
    assert "Closed (membership fee refunded)" in client.get("/orders/").content.decode()


def test_the_pay_link_of_a_closed_order_says_the_cancel_closed_it_and_nothing_is_charged():
    order = closed_vip_order()
    response = buyer(order).get(f"/orders/{order.order_no}/pay/")
    assert response.status_code == 409
    page = response.content.decode()
    assert "此订单已在你退订会员、会员费退款时关闭,不会扣款,无需支付。" in page and "已过期" not in page


def test_the_pay_link_refusal_reads_in_english():
    order = closed_vip_order()
    page = buyer(order, "en").get(f"/orders/{order.order_no}/pay/").content.decode()
    assert "closed when you cancelled your membership" in page and "you will not be charged" in page


def test_the_api_keeps_status_expired_and_names_the_closed_reason():
    order = closed_vip_order()
    seen = api_client(order.user).get(f"/api/v1/orders/{order.order_no}").json()
    assert (seen["status"], seen["closed_reason"]) == ("expired", "vip_fee_refunded")


def test_an_order_that_merely_expired_still_reads_expired():
    order = place_order(UserFactory(), stocked_product(keys=1))
    Order.objects.filter(pk=order.pk).update(status=Order.Status.EXPIRED)
    page = buyer(order).get(f"/orders/{order.order_no}/").content.decode()
    assert "状态: 已过期" in page
