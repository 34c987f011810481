"""Refusals a member sees on a phone (390 px): where the page lands and what it says."""

import pytest

from tests.browser.fixtures import log_in
from tests.factories import PASSWORD, UserFactory, place_order, stocked_product

pytestmark = pytest.mark.django_db(transaction=True)

PHONE_HEIGHT = 844


def in_view(page, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= PHONE_HEIGHT


def test_a_wrong_old_password_lands_on_the_form_with_the_notice_in_view(page, live_server):
    UserFactory(username="lan")
    log_in(page, live_server.url, "lan", PASSWORD)
    page.goto(f"{live_server.url}/accounts/")
    page.fill("input[name=old_password]", "wrong-one-123")
    page.fill("input[name=new_password1]", "A-new-Horse-43")
    page.fill("input[name=new_password2]", "A-new-Horse-43")
    page.click("#password button[type=submit]")
    page.wait_for_selector("#password-error")
    assert in_view(page, "#password-error")
    assert in_view(page, "#password .errorlist")


def test_a_fourth_unpaid_order_keeps_the_member_on_the_product_page_with_the_reason_in_view(
    page, live_server
):
    product = stocked_product(keys=10)
    buyer = UserFactory(username="mei")
    for _ in range(3):
        place_order(buyer, product)
    log_in(page, live_server.url, "mei", PASSWORD)
    page.goto(f"{live_server.url}/p/{product.sku}/")
    page.fill("input[name=quantity]", "2")
    page.select_option("select[name=channel]", "wechat")
    page.click("main button[type=submit]")
    page.wait_for_selector("#checkout-refusal")
    assert in_view(page, "#checkout-refusal")
    assert page.input_value("input[name=quantity]") == "2"
    assert page.input_value("select[name=channel]") == "wechat"
    page.click("#checkout-refusal a")
    page.wait_for_url(f"{live_server.url}/orders/")
