"""The account page on a phone (390 px): this device marked, a token revoked with its button, in Chinese and English,
nothing wider than the screen."""

import pytest

from kameng.accounts import services as accounts
from kameng.accounts.models import ApiToken
from tests.browser.fixtures import log_in
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

PHONE_WIDTH = 390
LONG_AGENT = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP2A.240805.005) AppleWebKit/537.36 (KHTML, like Gecko)"
)


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH


def test_a_member_sees_this_device_and_revokes_a_token_on_a_phone(page, live_server):
    user = UserFactory(username="lan")
    accounts.issue_token(user=user, ip="2001:db8:85a3::8a2e:370:7334", user_agent=LONG_AGENT)
    log_in(page, live_server.url, "lan", PASSWORD)
    page.goto(f"{live_server.url}/accounts/")
    assert page.locator("#sessions .this-device").inner_text() == "本机"
    assert page.locator("#tokens .credential").count() == 1
    assert fits_the_screen(page)
    page.click("#tokens button[type=submit]")
    page.wait_for_selector("text=令牌已撤销")
    assert page.locator("#tokens .credential").count() == 0
    assert ApiToken.objects.get().revoked_at is not None


def test_the_account_page_reads_in_english_on_a_phone(page, live_server):
    user = UserFactory(username="lan")
    accounts.issue_token(user=user, user_agent=LONG_AGENT)
    log_in(page, live_server.url, "lan", PASSWORD)
    page.goto(f"{live_server.url}/accounts/")
    page.click("button[value=en]")
    page.wait_for_selector("text=Signed-in devices")
    assert page.locator("#sessions .this-device").inner_text() == "This device"
    assert "Change password" in page.locator("#password h2").inner_text()
    assert fits_the_screen(page)
