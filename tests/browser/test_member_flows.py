"""What a member does with a phone browser: buy a key, join VIP, cancel in two clicks, switch off in the channel."""

import pytest

from kameng.membership.models import Membership
from tests.browser.fixtures import log_in
from tests.factories import PASSWORD, PlanFactory, UserFactory, stocked_product

pytestmark = pytest.mark.django_db(transaction=True)


def test_buy_a_card_key_and_see_it(page, live_server):
    product = stocked_product(keys=3, name="Q币 30 元", price_fen=3000)
    user = UserFactory()
    log_in(page, live_server.url, user.username, PASSWORD)
    page.goto(f"{live_server.url}/p/{product.sku}/")
    page.click("main button[type=submit]")  # 立即购买
    page.click("text=去付款")
    page.click("text=确认付款")  # the sandbox cashier
    page.wait_for_selector(".secret")
    assert page.locator(".secret").first.inner_text().startswith("KEY-")


def test_join_vip_with_auto_renew_sees_the_disclosure_and_signs(page, live_server):
    PlanFactory(code="vip-month", name="月卡", price_fen=1500)
    user = UserFactory()
    log_in(page, live_server.url, user.username, PASSWORD)
    page.goto(f"{live_server.url}/member/plans/")
    box = page.locator("#auto-renew-vip-month")
    assert not box.is_checked()  # opt-in: unticked
    disclosure = page.locator("#plan-vip-month .consent").inner_text()
    assert (
        "¥15.00" in disclosure
        and "下次计划扣款日" in disclosure
        and "提醒" in disclosure
        and "退订" in disclosure
    )
    box.check()
    # WeChat: the sign page alone (纯签约), the first period then charged through the agreement. Alipay pays and
    # signs in one step (支付并签约), played at the service level in membership/tests/test_pay_and_sign.py.
    page.check("#plan-vip-month input[name=channel][value=wechat]")
    page.click("#plan-vip-month button[type=submit]")
    page.click("text=同意并签约")  # the channel's signing page
    # WeChat returns the member to the page they came from (their Referer: the plans page) and takes no return URL.
    page.wait_for_url("**/member/plans/")
    page.goto(f"{live_server.url}/member/")
    assert "生效中" in page.locator("#membership").inner_text()
    assert Membership.objects.get(user=user).agreement.status == "active"


def _member_with_auto_renew(page, live_server):
    PlanFactory(code="vip-month", name="月卡", price_fen=1500)
    user = UserFactory()
    log_in(page, live_server.url, user.username, PASSWORD)
    page.goto(f"{live_server.url}/member/plans/")
    page.locator("#auto-renew-vip-month").check()
    page.check("#plan-vip-month input[name=channel][value=wechat]")  # the sign page alone (纯签约)
    page.click("#plan-vip-month button[type=submit]")
    page.click("text=同意并签约")
    page.wait_for_url("**/member/plans/")  # back where they came from, as WeChat's H5 signing does
    return user


def test_cancel_in_two_clicks_from_the_member_centre_and_see_the_receipt(page, live_server):
    user = _member_with_auto_renew(page, live_server)
    page.goto(f"{live_server.url}/member/")
    page.click("#cancel-entry")  # click 1: 退订会员
    page.click("button[value=end_of_period]")  # click 2: 确认关闭自动续费
    page.wait_for_selector("#receipt")
    assert page.locator("#receipt-no").inner_text().startswith("C")
    assert Membership.objects.get(user=user).auto_renew is False


def test_switching_auto_renew_off_in_the_channel_app_changes_the_member_centre(page, live_server):
    user = _member_with_auto_renew(page, live_server)
    page.goto(
        f"{live_server.url}/sandbox/agreements/"
    )  # the channel app, for the member logged in to the shop
    page.click("text=关闭自动续费")
    page.goto(f"{live_server.url}/member/")
    assert "未开通" in page.locator("#membership").inner_text()
    assert Membership.objects.get(user=user).auto_renew is False


def test_search_from_the_header_puts_the_official_cancel_entry_first(page, live_server):
    from kameng.helpcenter.services import ensure_default_entries

    ensure_default_entries()  # made by a data migration; transactional tests flush it
    page.goto(f"{live_server.url}/")
    page.fill("#header-search", "退订")
    page.press("#header-search", "Enter")
    first = page.locator("#search-results li").first
    assert "退订会员" in first.inner_text() and "官方入口" in first.inner_text()
    first.locator("a").click()
    page.wait_for_url("**/member/cancel/**")
