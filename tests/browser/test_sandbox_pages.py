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
    page.goto(pay_redirect_url(order=made.order, client_ip="127.0.0.1"))
    assert "¥15.00" in page.content()
    page.click("text=同意并签约")
    page.wait_for_url(lambda url: "/sandbox/" not in url)
    assert page.url.startswith(live_server.url)
    signed = SandboxAgreement.objects.get(external_no=made.membership.agreement.external_no)
    assert signed.status == SandboxAgreement.Status.NORMAL
