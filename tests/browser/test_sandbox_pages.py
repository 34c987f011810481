"""The sandbox's cashier and signing page in a phone browser, opened by a guest holding the link (logged in
nowhere), as a real channel's pages are: they work, and lead back to the shop only."""

import pytest

from kameng.membership import services as membership
from kameng.payments.selectors import pay_redirect_url
from kameng.sandbox.models import SandboxAgreement, SandboxTrade
from tests.factories import PlanFactory, UserFactory, place_order, stocked_product

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("channel", ["alipay", "wechat"])
def test_a_guest_holding_the_pay_link_pays_at_the_cashier_and_is_led_back_to_the_shop(
    page, live_server, channel
):
    order = place_order(UserFactory(), stocked_product(keys=1, price_fen=3000), channel=channel)
    page.goto(f"{live_server.url}/orders/{order.order_no}/pay/")
    assert "沙箱收银台" in page.content() and "30.00" in page.locator(".price").inner_text()
    page.click("text=确认付款")
    page.wait_for_url(lambda url: "/sandbox/" not in url)
    assert page.url.startswith(live_server.url)  # the shop (the order page asks a guest to log in)
    assert SandboxTrade.objects.get(out_trade_no=order.order_no).status == SandboxTrade.Status.PAID


def test_a_guest_holding_the_sign_link_signs_and_is_led_back_to_the_shop(page, live_server):
    made = membership.subscribe(
        user=UserFactory(),
        plan_code=PlanFactory(code="vip-month", name="月卡", price_fen=1500).code,
        channel="wechat",
        auto_renew=True,
        consent=membership.ConsentContext(given=True, ip="127.0.0.1", user_agent="pytest"),
    )
    came_from = f"{live_server.url}/help/"  # the shop's page the link was opened from: WeChat returns there
    page.goto(pay_redirect_url(order=made.order, client_ip="127.0.0.1"), referer=came_from)
    assert "委托代扣" in page.content()  # WeChat's page shows the template's terms, not the shop's price
    page.click("text=同意并签约")
    page.wait_for_url(came_from)
    signed = SandboxAgreement.objects.get(external_no=made.membership.agreement.external_no)
    assert signed.status == SandboxAgreement.Status.NORMAL


def test_a_guest_opening_the_sign_link_from_nowhere_signs_and_stays_on_the_signed_page(page, live_server):
    """No Referer, no way back: WeChat leaves the member on its page (H5纯签约 notes 3–4)."""
    made = membership.subscribe(
        user=UserFactory(),
        plan_code=PlanFactory(code="vip-month", name="月卡", price_fen=1500).code,
        channel="wechat",
        auto_renew=True,
        consent=membership.ConsentContext(given=True, ip="127.0.0.1", user_agent="pytest"),
    )
    page.goto(pay_redirect_url(order=made.order, client_ip="127.0.0.1"))
    page.click("text=同意并签约")
    page.wait_for_selector("text=已签约")
    assert "/sandbox/" in page.url and page.locator("text=返回商户").count() == 0
