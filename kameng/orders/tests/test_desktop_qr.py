"""The order page's 扫码支付 for desktop buyers: a QR code drawn on the server from the channel's qr_code, only
where the merchant's account has the product, and a status the page polls until the order is paid."""

import pytest
from django.test import Client

from kameng.orders import qr
from kameng.orders.models import Order
from kameng.sandbox import alipay_trades, wechat_views
from kameng.sandbox import services as sandbox_services
from kameng.sandbox.models import SandboxTrade
from tests.factories import (
    PASSWORD,
    UserFactory,
    alipay_precreate_in_sandbox,
    pay_in_sandbox,
    place_order,
    stocked_product,
)

pytestmark = pytest.mark.django_db

DESKTOP = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
WECHAT = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Mobile Safari/537.36 MicroMessenger/8.0.50"


def buyer_with_order(channel: str = "alipay"):
    user = UserFactory()
    order = place_order(user, stocked_product(keys=1, price_fen=1999), channel=channel)
    client = Client(headers={"User-Agent": DESKTOP})
    assert client.login(username=user.username, password=PASSWORD)
    return client, order


def test_a_desktop_buyer_is_offered_the_alipay_qr_code_of_the_order(monkeypatch, settings):
    sent = alipay_precreate_in_sandbox(monkeypatch, settings)
    client, order = buyer_with_order()
    page = client.get(f"/orders/{order.order_no}/").content.decode()
    assert "扫码支付" in page and 'id="desktop-qr"' in page
    trade = SandboxTrade.objects.get(channel="alipay", out_trade_no=order.order_no)
    assert str(qr.svg(alipay_trades.qr_url(trade))) in page  # the code of precreate's qr_code
    assert f'data-status-url="/orders/{order.order_no}/status/"' in page
    assert "/static/orders-qr.js" in page
    assert "去付款" in page  # the usual button stays
    assert sent == ["alipay.trade.precreate"]


@pytest.mark.parametrize("agent", [PHONE, WECHAT], ids=["iphone", "wechat-in-app"])
def test_a_phone_gets_the_pay_button_and_no_qr_code(monkeypatch, settings, agent):
    sent = alipay_precreate_in_sandbox(monkeypatch, settings)
    client, order = buyer_with_order()
    page = client.get(f"/orders/{order.order_no}/", headers={"User-Agent": agent}).content.decode()
    assert "去付款" in page and 'id="desktop-qr"' not in page and "<svg" not in page
    assert sent == []  # the channel is not even asked


def test_no_qr_code_without_the_product_on_the_account(settings):
    settings.KAMENG_ALIPAY_PRODUCTS = ("wap",)
    client, order = buyer_with_order()
    page = client.get(f"/orders/{order.order_no}/").content.decode()
    assert "去付款" in page and 'id="desktop-qr"' not in page


def test_no_qr_code_when_the_channel_does_not_hand_one_out(settings):
    """precreate on, but every gateway call fails (the sandbox's fault injection): the page keeps the button."""
    settings.KAMENG_ALIPAY_PRODUCTS = ("wap", "precreate")
    settings.KAMENG_SANDBOX_FAULT_RATE = 1.0
    client, order = buyer_with_order()
    answer = client.get(f"/orders/{order.order_no}/")
    assert answer.status_code == 200 and 'id="desktop-qr"' not in answer.content.decode()


def test_a_paid_order_shows_no_qr_code(monkeypatch, settings):
    alipay_precreate_in_sandbox(monkeypatch, settings)
    client, order = buyer_with_order()
    pay_in_sandbox(order)
    page = client.get(f"/orders/{order.order_no}/").content.decode()
    assert 'id="desktop-qr"' not in page


def test_the_status_answers_the_buyer_until_and_after_payment():
    client, order = buyer_with_order()
    assert client.get(f"/orders/{order.order_no}/status/").json() == {
        "order_no": order.order_no,
        "status": "pending_payment",
    }
    pay_in_sandbox(order)
    assert client.get(f"/orders/{order.order_no}/status/").json()["status"] == Order.Status.DELIVERED


def test_the_status_of_someone_elses_order_is_not_found():
    _, order = buyer_with_order()
    stranger = Client()
    assert stranger.login(username=UserFactory().username, password=PASSWORD)
    assert stranger.get(f"/orders/{order.order_no}/status/").status_code == 404


def test_the_qr_svg_is_csp_clean():
    drawn = str(qr.svg("https://qr.alipay.com/bax0123"))
    assert drawn.startswith("<svg") and "<script" not in drawn and "style=" not in drawn


def test_a_wechat_membership_first_order_page_gets_no_qr_and_never_calls_the_channel(monkeypatch):
    # Its first period is paid by signing the contract (H5 纯签约, then pappayapply): a Native QR for the same
    # order would let the member pay twice; and building the signing link on every page view called WeChat, so a
    # channel outage made the order page a 500.
    from django.test import override_settings

    from kameng.core import http
    from kameng.core.http import TransportError
    from kameng.membership import services as membership
    from tests.conformance import wechat_fake as fake
    from tests.factories import PlanFactory

    config = fake.config(fake.make_keys(), native_enabled=True)
    calls = []

    def channel_down(url, **kwargs):
        calls.append(url)
        raise TransportError("connection refused")

    monkeypatch.setattr(http, "post", channel_down)
    with override_settings(
        KAMENG_CHANNELS={"wechat": {k: getattr(config, k) for k in config.__dataclass_fields__}}
    ):
        user = UserFactory()
        made = membership.subscribe(
            user=user,
            plan_code=PlanFactory().code,
            channel="wechat",
            auto_renew=True,
            consent=membership.ConsentContext(given=True, ip="203.0.113.7", user_agent="pytest"),
        )
        client = Client(headers={"User-Agent": DESKTOP})
        assert client.login(username=user.username, password=PASSWORD)
        response = client.get(f"/orders/{made.order.order_no}/")
    assert response.status_code == 200
    assert 'id="desktop-qr"' not in response.content.decode()
    assert calls == []


def test_a_desktop_buyer_paying_by_wechat_is_offered_the_native_qr_code_and_scanning_it_pays():
    """The shop's Native call against the sandbox's Native answer, end to end (the sandbox's code_url opens its
    scan page; WeChat's own is weixin://…)."""
    client, order = buyer_with_order("wechat")
    page = client.get(f"/orders/{order.order_no}/").content.decode()
    trade = SandboxTrade.objects.get(channel="wechat", out_trade_no=order.order_no)
    assert trade.trade_type == "NATIVE" and 'id="desktop-qr"' in page
    assert str(qr.svg(wechat_views.native_scan_url(trade))) in page
    phone = Client(headers={"Accept": "text/html"})
    assert (
        phone.get(f"/sandbox/wechat/native/{trade.trade_no}").status_code == 200
    )  # the phone scans the code
    paid = phone.post(f"/sandbox/pay/{order.order_no}")  # and pays at the cashier it opened
    assert paid.status_code == 200 and "已支付" in paid.content.decode()  # a page, not the API's JSON
    sandbox_services.deliver_due_notifications()
    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED
