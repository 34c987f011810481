import pytest
from django.test import Client

from kameng.catalog.models import Delivery
from kameng.core import clock, outbox, sweeps
from kameng.core.models import AuditLog
from kameng.core.roles import Role
from kameng.inventory.models import CardKey
from kameng.orders import services
from kameng.orders.models import Order
from kameng.payments import ledger
from kameng.payments.models import Refund
from tests.factories import (
    ProductFactory,
    UserFactory,
    add_keys,
    api_client,
    open_cashier,
    pay_in_sandbox,
    place_order,
    post_json,
    stocked_product,
)

pytestmark = pytest.mark.django_db


def test_an_order_reserves_its_keys_when_it_is_created():
    product = stocked_product(keys=3)
    order = place_order(UserFactory(), product, quantity=2)
    assert order.status == Order.Status.PENDING_PAYMENT
    assert CardKey.objects.filter(order=order, status=CardKey.Status.RESERVED).count() == 2
    assert CardKey.objects.filter(product=product, status=CardKey.Status.AVAILABLE).count() == 1


def test_paying_delivers_exactly_the_reserved_keys_to_the_buyer_via_the_api():
    product = stocked_product(keys=3)
    buyer = UserFactory()
    client = api_client(buyer)
    created = post_json(client, "/api/v1/orders", {"sku": product.sku, "quantity": 2, "channel": "alipay"})
    assert created.status_code == 201
    body = created.json()
    assert body["amount_fen"] == body["original_amount_fen"] == 2 * product.price_fen
    assert body["status"] == "pending_payment" and body["pay_url"].endswith(
        f"/orders/{body['order_no']}/pay/"
    )
    order = Order.objects.get(order_no=body["order_no"])
    reserved = set(CardKey.objects.filter(order=order).values_list("id", flat=True))
    pay_in_sandbox(order)
    shown = client.get(f"/api/v1/orders/{order.order_no}").json()
    assert shown["status"] == "delivered"
    assert len(shown["cards"]) == 2
    assert (
        set(CardKey.objects.filter(order=order, status=CardKey.Status.SOLD).values_list("id", flat=True))
        == reserved
    )
    assert shown["paid_at"].endswith("+08:00")
    assert ledger.balance(ledger.SALES) == -order.amount_fen


def test_every_reveal_of_a_secret_is_audit_logged():
    product = stocked_product(keys=1)
    buyer = UserFactory()
    order = place_order(buyer, product)
    pay_in_sandbox(order)
    client = api_client(buyer)
    client.get(f"/api/v1/orders/{order.order_no}")
    client.get(f"/api/v1/orders/{order.order_no}")
    reveals = AuditLog.objects.filter(action="cardkeys.revealed", object_id=str(order.pk))
    assert reveals.count() == 2
    assert reveals.first().actor == buyer


def test_another_buyers_order_is_a_404_and_reveals_nothing():
    product = stocked_product(keys=1)
    order = place_order(UserFactory(), product)
    pay_in_sandbox(order)
    response = api_client(UserFactory()).get(f"/api/v1/orders/{order.order_no}")
    assert response.status_code == 404
    assert not AuditLog.objects.filter(action="cardkeys.revealed").exists()
    web = Client()
    web.force_login(UserFactory())
    assert web.get(f"/orders/{order.order_no}/").status_code == 404


def test_support_sees_the_order_but_not_its_keys():
    product = stocked_product(keys=1)
    order = place_order(UserFactory(), product)
    pay_in_sandbox(order)
    shown = api_client(UserFactory(role=Role.SUPPORT)).get(f"/api/v1/orders/{order.order_no}").json()
    assert shown["status"] == "delivered" and shown["cards"] == []


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"sku": "nope", "quantity": 1, "channel": "alipay"}, 404, "unknown_sku"),
        ({"sku": "{sku}", "quantity": 0, "channel": "alipay"}, 422, "bad_quantity"),
        ({"sku": "{sku}", "quantity": -3, "channel": "alipay"}, 422, "bad_quantity"),
        ({"sku": "{sku}", "quantity": 4, "channel": "alipay"}, 409, "out_of_stock"),
        ({"sku": "{sku}", "quantity": 1, "channel": "paypal"}, 422, "unknown_channel"),
        ({"sku": "{sku}", "quantity": "1", "channel": "alipay"}, 422, "invalid"),
        ({"sku": "{sku}", "quantity": True, "channel": "alipay"}, 422, "invalid"),
    ],
)
def test_bad_orders_get_a_clear_error_and_reserve_nothing(body, status, code):
    product = stocked_product(keys=3)
    body = {**body, "sku": body["sku"].replace("{sku}", product.sku)}
    response = post_json(api_client(UserFactory()), "/api/v1/orders", body)
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code
    assert Order.objects.count() == 0
    assert CardKey.objects.filter(status=CardKey.Status.AVAILABLE).count() == 3


def test_unpaid_orders_expire_after_15_minutes_and_release_their_keys():
    product = stocked_product(keys=2)
    order = place_order(UserFactory(), product, quantity=2)
    clock.advance(seconds=14 * 60)
    assert sweeps.run_due_sweeps()["expire_orders"] == 0
    clock.advance(seconds=61)
    assert sweeps.run_due_sweeps()["expire_orders"] == 1
    order.refresh_from_db()
    assert order.status == Order.Status.EXPIRED
    assert CardKey.objects.filter(product=product, status=CardKey.Status.AVAILABLE, order=None).count() == 2


def test_a_late_payment_is_delivered_when_stock_allows():
    product = stocked_product(keys=1)
    order = place_order(UserFactory(), product)
    open_cashier(order)
    clock.advance(seconds=16 * 60)
    services.expire_due_orders()
    pay_in_sandbox(order)
    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED
    assert CardKey.objects.get(product=product).order == order


def test_a_late_payment_with_no_stock_left_is_refunded_through_the_channel_automatically():
    product = stocked_product(keys=1)
    late, early = UserFactory(), UserFactory()
    order = place_order(late, product, channel="wechat")
    open_cashier(order)
    clock.advance(seconds=16 * 60)
    services.expire_due_orders()
    other = place_order(early, product)
    pay_in_sandbox(other)
    pay_in_sandbox(order)  # the key went to someone else meanwhile
    refund = Refund.objects.get(payment__order=order)
    assert refund.reason == Refund.Reason.OUT_OF_STOCK and refund.status == Refund.Status.PENDING
    outbox.deliver_due()
    refund.refresh_from_db()
    order.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED and refund.channel_refund_no
    assert order.status == Order.Status.REFUNDED
    assert ledger.balance(ledger.channel_account("wechat")) == 0
    assert ledger.balance(ledger.REFUNDS_PAYABLE) == 0


def test_manual_goods_go_to_the_fulfilment_queue_and_are_delivered_by_an_operator():
    product = ProductFactory(delivery=Delivery.MANUAL, manual_stock=2)
    order = place_order(UserFactory(), product)
    pay_in_sandbox(order)
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLING
    client = Client()
    client.force_login(UserFactory(role=Role.OPERATOR))
    assert order.order_no in client.get("/admin/orders/fulfilmentqueueentry/").content.decode()
    response = client.post(
        f"/admin/orders/fulfilmentqueueentry/{order.order_no}/fulfil/", {"note": "已充值到账号 123"}
    )
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED and order.fulfilment_note == "已充值到账号 123"
    assert ledger.balance(ledger.SALES) == -order.amount_fen


def test_the_fulfilment_queue_serves_priority_orders_first():
    product = ProductFactory(delivery=Delivery.MANUAL)
    first, vip = place_order(UserFactory(), product), place_order(UserFactory(), product)
    Order.objects.filter(pk=vip.pk).update(priority=1)
    for order in (first, vip):
        pay_in_sandbox(order)
    from kameng.orders.selectors import fulfilment_queue

    assert [o.order_no for o in fulfilment_queue()] == [vip.order_no, first.order_no]


def test_manual_stock_is_counted_down_and_released_on_expiry():
    product = ProductFactory(delivery=Delivery.MANUAL, manual_stock=1)
    place_order(UserFactory(), product)
    product.refresh_from_db()
    assert product.manual_stock == 0
    clock.advance(seconds=16 * 60)
    services.expire_due_orders()
    product.refresh_from_db()
    assert product.manual_stock == 1


def test_the_shop_pages_show_products_and_a_buyer_checks_out_and_sees_the_key():
    product = stocked_product(keys=1, name="测试点卡")
    add_keys(product, 1)
    buyer = UserFactory()
    client = Client()
    assert "测试点卡" in client.get("/").content.decode()
    assert client.get(f"/p/{product.sku}/").status_code == 200
    client.force_login(buyer)
    response = client.post("/orders/checkout/", {"sku": product.sku, "quantity": "1", "channel": "alipay"})
    order = Order.objects.get(user=buyer)
    assert response["Location"] == f"/orders/{order.order_no}/"
    pay_in_sandbox(order)
    page = client.get(f"/orders/{order.order_no}/").content.decode()
    secret = api_client(buyer).get(f"/api/v1/orders/{order.order_no}").json()["cards"][0]["secret"]
    assert secret in page


def test_pages_are_chinese_by_default_and_english_on_request():
    stocked_product(keys=1)
    assert "全部商品" in Client().get("/").content.decode()
    assert "All products" in Client(headers={"Accept-Language": "en"}).get("/").content.decode()


def test_the_products_api_lists_price_vip_price_and_stock():
    product = stocked_product(keys=4)
    rows = {r["sku"]: r for r in Client().get("/api/v1/products").json()}
    assert rows[product.sku] == {
        "sku": product.sku,
        "name": product.name,
        "category": product.category.slug,
        "price_fen": product.price_fen,
        "vip_price_fen": product.price_fen,
        "stock": 4,
        "delivery": "auto",
    }


@pytest.mark.parametrize("channel", ["alipay", "wechat"])
def test_the_hop_to_the_channel_tells_it_the_page_the_buyer_came_from(channel):
    """WeChat's H5 signing returns the member to their Referer, which must carry a path; the shop's own pages keep
    their same-origin policy."""
    order = place_order(UserFactory(), stocked_product(keys=1), channel=channel)
    to_channel = Client().get(
        f"/orders/{order.order_no}/pay/", HTTP_REFERER=f"http://testserver/orders/{order.order_no}/"
    )
    assert to_channel.status_code == 302
    assert to_channel["Referrer-Policy"] == "no-referrer-when-downgrade"
    assert Client().get("/")["Referrer-Policy"] == "same-origin"
