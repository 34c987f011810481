"""The agent's ticket page on a phone: the member's refund quote is shown and bound to the approval; a quote made
stale meanwhile comes back as the new quote to confirm
(docs/rules.md#a-support-approval-is-held-to-the-quote-the-agent-saw)."""

import pytest

from kameng.core.roles import Role
from kameng.membership.models import Cancellation
from kameng.orders.models import Order
from kameng.support import services
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


def _fits_the_phone(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_an_agent_approving_a_quote_made_stale_confirms_the_new_one_on_a_phone(page, live_server, tmp_path):
    member = UserFactory()
    join_vip(member, PlanFactory(name="年卡", period="year", price_fen=36500, discount_percent=10))
    proof = Order.objects.get(user=member, kind=Order.Kind.MEMBERSHIP).order_no
    ticket = services.file_ticket(user=member, category="refund", order_no=proof, reason="误购")
    finance = UserFactory(role=Role.FINANCE)
    log_in(page, live_server.url, finance.username, PASSWORD)

    page.goto(f"{live_server.url}/support/tickets/{ticket.ticket_no}/")
    assert page.locator("#quote-refund").inner_text() == "¥365.00"
    assert page.locator("#above-policy").is_visible() and _fits_the_phone(page)
    page.screenshot(path=str(tmp_path / "quote.png"), full_page=True)
    pay_in_sandbox(place_order(member, stocked_product(keys=10, price_fen=1999), quantity=10))  # meanwhile
    page.click("#approve-form button[type=submit]")

    assert page.locator("#stale-quote").is_visible()
    assert page.locator("#quote-refund").inner_text() == "¥344.00" and _fits_the_phone(page)
    assert not Cancellation.objects.exists()
    page.screenshot(path=str(tmp_path / "stale.png"), full_page=True)
    page.click("#approve-form button[type=submit]")

    page.wait_for_url(f"{live_server.url}/support/tickets/{ticket.ticket_no}/")
    assert Cancellation.objects.get(membership__user=member).refund_fen == 34400
    assert page.locator("#ticket-status").inner_text() == "已同意"
