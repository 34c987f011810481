"""The cancel page when money is at stake (issue 13, items 1 and 2), in Chromium: the quote names the unpaid
VIP-priced orders an immediate cancel closes and the receipt lists them; a quote made stale while the page was open
(cards bought at the VIP price meanwhile) is shown again, with the new amount, instead of being paid."""

import pytest

from kameng.membership.models import Cancellation
from tests.browser.fixtures import log_in
from tests.factories import (
    PASSWORD,
    PlanFactory,
    UserFactory,
    join_vip,
    pay_in_sandbox,
    place_order,
    stocked_product,
)

pytestmark = pytest.mark.django_db(transaction=True)


def _year_member(page, live_server):
    user = UserFactory()
    join_vip(user, PlanFactory(name="年卡", period="year", price_fen=36500, discount_percent=10))
    log_in(page, live_server.url, user.username, PASSWORD)
    return user


def test_the_cancel_page_names_the_unpaid_vip_order_it_closes_and_the_receipt_lists_it(page, live_server):
    user = _year_member(page, live_server)
    order = place_order(user, stocked_product(keys=10, price_fen=1999), quantity=10)
    page.goto(f"{live_server.url}/member/cancel/")
    assert order.order_no in page.locator("#closes-orders + ul").inner_text()
    page.click("button[value=immediate]")
    page.wait_for_selector("#receipt")
    assert order.order_no in page.locator("#closed-orders").inner_text()


def test_a_quote_gone_stale_while_the_page_was_open_is_shown_again_with_the_new_amount(page, live_server):
    user = _year_member(page, live_server)
    page.goto(f"{live_server.url}/member/cancel/")
    assert page.locator("#refund-amount").inner_text() == "¥365.00"
    pay_in_sandbox(place_order(user, stocked_product(keys=10, price_fen=1999), quantity=10))  # saves ¥20.00
    page.click("button[value=immediate]")
    page.wait_for_selector("#stale-quote")
    new_amount = page.locator("#refund-amount").inner_text()
    assert new_amount != "¥365.00" and not Cancellation.objects.exists()
    page.click("button[value=immediate]")  # asked again, the member confirms the new quote
    page.wait_for_selector("#receipt")
    assert Cancellation.objects.get().refund_fen < 36500
