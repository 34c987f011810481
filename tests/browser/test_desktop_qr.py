"""The order page in Chromium at desktop and at phone width: a desktop buyer scans a QR code (Alipay 当面付 here) and
the page moves to the result by itself once the order is paid; a phone gets the usual pay button and no code."""

import pytest

from kameng.orders.models import Order
from tests.browser.fixtures import ARTIFACTS, log_in
from tests.factories import (
    PASSWORD,
    UserFactory,
    alipay_precreate_in_sandbox,
    pay_in_sandbox,
    place_order,
    stocked_product,
)

pytestmark = pytest.mark.django_db(transaction=True)


def _buyer_at_the_order(page, live_server, *, width: int, height: int):
    user = UserFactory()
    order = place_order(user, stocked_product(keys=1, price_fen=1999))
    page.set_viewport_size({"width": width, "height": height})
    log_in(page, live_server.url, user.username, PASSWORD)
    page.goto(f"{live_server.url}/orders/{order.order_no}/")
    return order


def test_a_desktop_buyer_scans_the_code_and_the_page_lands_on_the_paid_order(
    page, live_server, monkeypatch, settings
):
    alipay_precreate_in_sandbox(monkeypatch, settings)
    order = _buyer_at_the_order(page, live_server, width=1280, height=900)
    block = page.locator("#desktop-qr")
    assert block.is_visible() and "扫码支付" in block.inner_text()
    box = block.locator("svg").bounding_box()
    assert box is not None and box["width"] >= 150 and abs(box["width"] - box["height"]) < 1  # a square code
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "order-qr-desktop.png"), full_page=True)

    pay_in_sandbox(order)  # the buyer's phone pays: Alipay's notification reaches the shop

    page.wait_for_selector(".secret")  # the poller loaded the result: the paid order with its key
    assert Order.objects.get(pk=order.pk).status == Order.Status.DELIVERED
    assert page.locator("#desktop-qr").count() == 0
    page.screenshot(path=str(ARTIFACTS / "order-qr-paid.png"), full_page=True)


def test_a_phone_sees_the_pay_button_and_no_qr_code(page, live_server, monkeypatch, settings):
    alipay_precreate_in_sandbox(monkeypatch, settings)
    _buyer_at_the_order(page, live_server, width=390, height=844)
    assert not page.locator("#desktop-qr").is_visible()  # hidden at phone width, whatever the user agent says
    assert page.locator("a.button", has_text="去付款").is_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "order-qr-phone.png"), full_page=True)
