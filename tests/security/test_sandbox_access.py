"""Who may use the sandbox gateway (embedded profile): it plays the channels, so it gives no one more than a real
channel would. The cashier and the signing page serve whoever holds the link; the 自动续费管理 page and its switch
act for the member logged in to the shop, on their own agreements only; the test clock and the sweeps are staff's;
every way back to the merchant leads to the shop; and production refuses it beside real channel credentials."""

import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from django.test import Client

from kameng.core import clock
from kameng.core import models as core
from kameng.core.roles import Role
from kameng.membership.models import Agreement
from kameng.orders.models import Order
from kameng.sandbox.models import SandboxAgreement, SandboxTrade
from tests.factories import (
    PlanFactory,
    UserFactory,
    api_client,
    join_vip,
    place_order,
    post_json,
    stocked_product,
)

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
EVIL = "https://evil.example/phish"


def offset() -> int:
    return core.TestClock.objects.filter(pk=1).values_list("offset_seconds", flat=True).first() or 0


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def return_field(page: str) -> str:
    """Where the page's form sends the buyer back to the merchant (its hidden return_url)."""
    return re.search(r'name="return_url" value="([^"]*)"', page).group(1)


def links(page: str) -> list[str]:
    return re.findall(r'href="([^"]*)"', page)


def sandbox_agreement(membership) -> SandboxAgreement:
    return SandboxAgreement.objects.get(agreement_no=membership.agreement.channel_agreement_no)


# --- the test clock and the sweeps: staff only -----------------------------------------------------------------------


def test_an_anonymous_caller_cannot_move_the_clock():
    answer = post_json(Client(), "/api/v1/sandbox/clock", {"advance_seconds": 86400})
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "unauthorized"
    assert offset() == 0


def test_a_member_cannot_move_the_clock():
    answer = post_json(api_client(UserFactory()), "/api/v1/sandbox/clock", {"advance_seconds": 86400})
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "staff_only"
    assert offset() == 0


def test_a_member_is_refused_in_their_own_language():
    member = api_client(UserFactory())
    answer = post_json(member, "/api/v1/sandbox/clock", {"advance_seconds": 1}, **{"Accept-Language": "en"})
    assert (
        answer.json()["error"]["message"] == "Only staff may move the sandbox clock or run the due sweeps now"
    )


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.SUPPORT])
def test_staff_move_the_clock_and_the_move_is_audited_with_their_name(role):
    staff = UserFactory(role=role)
    answer = post_json(api_client(staff), "/api/v1/sandbox/clock", {"advance_seconds": 86400})
    assert answer.status_code == 200 and answer.json()["offset_seconds"] == 86400 == offset()
    moved = core.AuditLog.objects.get(action="sandbox.clock_moved")
    assert moved.actor == staff and moved.data["advance_seconds"] == 86400


def _unpaid_order_past_its_deadline() -> Order:
    order = place_order(UserFactory(), stocked_product(keys=1))
    clock.advance(seconds=3600)  # the order's 15 minutes are over: the next sweep expires it
    return order


def test_an_anonymous_caller_cannot_run_the_sweeps():
    order = _unpaid_order_past_its_deadline()
    answer = Client().post("/api/v1/sandbox/run-due")
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "unauthorized"
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT


def test_a_member_cannot_run_the_sweeps():
    order = _unpaid_order_past_its_deadline()
    answer = api_client(UserFactory()).post("/api/v1/sandbox/run-due")
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "staff_only"
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT


def test_staff_run_the_sweeps_and_the_run_is_audited():
    order = _unpaid_order_past_its_deadline()
    staff = UserFactory(role=Role.OPERATOR)
    answer = api_client(staff).post("/api/v1/sandbox/run-due")
    assert answer.status_code == 200 and answer.json()["expire_orders"] == 1
    order.refresh_from_db()
    assert order.status == Order.Status.EXPIRED
    assert core.AuditLog.objects.get(action="sandbox.sweeps_run").actor == staff


# --- the 自动续费管理 page and its switch: the logged-in member's own agreements ------------------------------------


def test_the_agreements_page_sends_an_anonymous_visitor_to_log_in():
    join_vip(UserFactory(), PlanFactory(), auto_renew=True)
    page = Client().get("/sandbox/agreements/")
    assert page.status_code == 302 and urlsplit(page["Location"]).path == "/accounts/login/"


@pytest.mark.parametrize("channel", ["alipay", "wechat"])
def test_the_agreements_page_shows_the_logged_in_member_their_own_agreement_and_nobody_elses(channel):
    plan = PlanFactory()
    # WeChat shows only 32 characters of a name, so two long names look alike there: a member is known by their id.
    member = join_vip(UserFactory(username="a" * 40), plan, auto_renew=True, channel=channel)
    others = [
        join_vip(UserFactory(username="a" * 40 + "b"), plan, auto_renew=True, channel="wechat"),
        join_vip(UserFactory(username="a" * 40 + "c"), plan, auto_renew=True, channel="alipay"),
    ]
    page = logged_in(member.user).get("/sandbox/agreements/").content.decode()
    assert member.agreement.channel_agreement_no in page and "关闭自动续费" in page
    assert not any(other.agreement.channel_agreement_no in page for other in others)


@pytest.mark.parametrize("accept", ["text/html", "application/json"])
def test_a_member_cannot_switch_off_another_members_agreement(accept):
    victim = join_vip(UserFactory(), PlanFactory(), auto_renew=True)
    attacker = logged_in(UserFactory())
    answer = attacker.post(
        f"/sandbox/agreements/{victim.agreement.channel_agreement_no}/unsign", headers={"Accept": accept}
    )
    assert answer.status_code == 404
    assert sandbox_agreement(victim).status == SandboxAgreement.Status.NORMAL
    assert Agreement.objects.get(pk=victim.agreement.pk).status == Agreement.Status.ACTIVE


def test_an_anonymous_visitor_cannot_switch_off_an_agreement_and_is_sent_to_log_in():
    victim = join_vip(UserFactory(), PlanFactory(), auto_renew=True)
    url = f"/sandbox/agreements/{victim.agreement.channel_agreement_no}/unsign"
    page = Client().post(url, headers={"Accept": "text/html"})
    script = Client().post(url)
    assert page.status_code == 302 and urlsplit(page["Location"]).path == "/accounts/login/"
    assert script.status_code == 401 and script.json()["error"]["code"] == "login_required"
    assert sandbox_agreement(victim).status == SandboxAgreement.Status.NORMAL


def test_another_site_cannot_make_a_logged_in_member_switch_off_their_agreement():
    membership = join_vip(UserFactory(), PlanFactory(), auto_renew=True)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(membership.user)
    answer = browser.post(f"/sandbox/agreements/{membership.agreement.channel_agreement_no}/unsign")
    assert answer.status_code == 403
    assert sandbox_agreement(membership).status == SandboxAgreement.Status.NORMAL


def test_a_member_switches_off_their_own_agreement_from_the_page():
    membership = join_vip(UserFactory(), PlanFactory(), auto_renew=True)
    member = logged_in(membership.user)
    answer = member.post(
        f"/sandbox/agreements/{membership.agreement.channel_agreement_no}/unsign",
        headers={"Accept": "text/html"},
    )
    assert answer.status_code == 302 and answer["Location"] == "/sandbox/agreements/"
    unsigned = sandbox_agreement(membership)
    assert unsigned.status == SandboxAgreement.Status.UNSIGN and unsigned.unsigned_by == "user"
    assert core.AuditLog.objects.get(action="sandbox.agreement_unsigned").actor == membership.user


# --- the cashier and the signing page: whoever holds the link, and back to the shop only ------------------------


def _cashier(channel: str = "alipay", redirect_url: str = "") -> tuple[Order, str]:
    """A member's order, and its cashier opened by a guest holding the pay link (logged in nowhere)."""
    order = place_order(UserFactory(), stocked_product(keys=1), channel=channel)
    guest = Client()
    gateway = guest.get(f"/orders/{order.order_no}/pay/")["Location"]
    if redirect_url:
        gateway = gateway.split("&redirect_url=")[0] + "&redirect_url=" + redirect_url
    page = guest.get(gateway)
    assert page.status_code == 200 and "确认付款" in page.content.decode()
    return order, page.content.decode()


@pytest.mark.parametrize("channel", ["alipay", "wechat"])
def test_a_guest_holding_the_pay_link_pays_at_the_cashier_and_returns_to_the_order_page(channel):
    order, _ = _cashier(channel)
    trade = SandboxTrade.objects.get(out_trade_no=order.order_no)
    back = f"/orders/{order.order_no}/"
    paid = Client().post(
        f"/sandbox/pay/{order.order_no}", {"return_url": back}, headers={"Accept": "text/html"}
    )
    assert paid.status_code == 302 and paid["Location"] == back
    trade.refresh_from_db()
    assert trade.status == SandboxTrade.Status.PAID


@pytest.mark.parametrize(
    "foreign",
    [EVIL, "//evil.example/x", "javascript:alert(1)", "https://testserver.evil.example/", "\\\\evil"],
)
def test_paying_never_sends_the_buyer_to_another_site(foreign):
    order, _ = _cashier()
    paid = Client().post(
        f"/sandbox/pay/{order.order_no}", {"return_url": foreign}, headers={"Accept": "text/html"}
    )
    assert paid.status_code == 302 and paid["Location"] == "/"  # the shop's own home page instead


def test_the_wechat_cashier_offers_no_way_back_to_another_site():
    order, page = _cashier("wechat", redirect_url=quote(EVIL, safe=""))
    assert return_field(page) == "/"
    Client().post(f"/sandbox/pay/{order.order_no}")
    paid_page = (
        Client()
        .get(
            f"/sandbox/wechat/h5/{SandboxTrade.objects.get(out_trade_no=order.order_no).trade_no}",
            {"redirect_url": EVIL},
        )
        .content.decode()
    )
    assert "返回商户" in paid_page and "/" in links(paid_page)
    assert not any("evil.example" in link for link in links(paid_page))


def _sign_request(channel: str = "wechat"):
    """A member's auto-renew sign request at the channel, and the signing page as a guest holding the link sees it."""
    from kameng.membership import services as membership
    from kameng.payments.selectors import pay_redirect_url

    made = membership.subscribe(
        user=UserFactory(),
        plan_code=PlanFactory().code,
        channel=channel,
        auto_renew=True,
        consent=membership.ConsentContext(given=True, ip="127.0.0.1", user_agent="pytest"),
    )
    url = pay_redirect_url(order=made.order, client_ip="127.0.0.1")
    return made, url


def test_a_guest_holding_the_sign_link_signs_and_sees_it_signed():
    made, url = _sign_request("wechat")
    guest = Client()
    page = guest.get(url)
    assert page.status_code == 200 and "同意并签约" in page.content.decode()
    external_no = made.membership.agreement.external_no
    signed = guest.post(f"/sandbox/agreements/{external_no}/sign", {"channel": "wechat"})
    assert signed.status_code == 302
    assert "已签约" in guest.get(signed["Location"]).content.decode()
    assert SandboxAgreement.objects.get(external_no=external_no).status == SandboxAgreement.Status.NORMAL


@pytest.mark.parametrize("foreign", [EVIL, "//evil.example/x", "javascript:alert(1)"])
def test_signing_never_sends_the_member_to_another_site(foreign):
    # WeChat's H5 signing page goes back to the page the member came from (its Referer), so a site of the attacker's
    # that links to the signing page would be that page.
    made, url = _sign_request("wechat")
    page = Client().get(url, headers={"Referer": foreign}).content.decode()
    assert return_field(page) == "/"
    signed = Client().post(
        f"/sandbox/agreements/{made.membership.agreement.external_no}/sign",
        {"channel": "wechat", "return_url": foreign},
    )
    assert signed.status_code == 302 and signed["Location"] == "/"


def test_signing_returns_to_the_shops_own_page(settings):
    # WeChat's sign page alone (纯签约): WeChat takes no return URL and goes back to the Referer, the shop's page the
    # member subscribed on (https://pay.weixin.qq.com/doc/v2/merchant/4011987295.md). Alipay's link is 支付并签约,
    # the first order's cashier (the cashier's own way back is checked above).
    made, url = _sign_request("wechat")
    plans = settings.KAMENG_PUBLIC_URL.rstrip("/") + "/member/plans/"  # the page whose form sent them to sign
    assert return_field(Client().get(url, headers={"Referer": plans}).content.decode()) == plans
    signed = Client().post(
        f"/sandbox/agreements/{made.membership.agreement.external_no}/sign",
        {"channel": "wechat", "return_url": plans},
    )
    assert signed["Location"] == plans


def test_a_referer_without_a_path_gives_the_wechat_signing_page_no_way_back(settings):
    # "如果获取的 referer 只有域名没有路径，那么签约完成后需要用户手动回到浏览器" (the same page).
    _, url = _sign_request("wechat")
    page = (
        Client().get(url, headers={"Referer": settings.KAMENG_PUBLIC_URL.rstrip("/") + "/"}).content.decode()
    )
    assert return_field(page) == ""


# --- production: never beside real channel credentials --------------------------------------------------------------


def _production_check(tmp_path, **env: str) -> subprocess.CompletedProcess:
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("KAMENG_") and k != "DJANGO_ALLOW_ASYNC_UNSAFE"
    }
    environment = {
        **inherited,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "KAMENG_ENV": "production",
        "KAMENG_INSTANCE_DIR": str(tmp_path),
        "DJANGO_SECRET_KEY": "production-test-only-" + "x" * 50,
        "KAMENG_CARD_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        "DJANGO_ALLOWED_HOSTS": "shop.example.com",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/15",
        "KAMENG_LOG_LEVEL": "ERROR",
        **env,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=environment, capture_output=True, text=True
    )


REAL_ALIPAY = {
    "KAMENG_ALIPAY_APP_ID": "2021004100000000",
    "KAMENG_ALIPAY_APP_PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----",
    "KAMENG_ALIPAY_PUBLIC_KEY": "-----BEGIN PUBLIC KEY-----\nx\n-----END PUBLIC KEY-----",
}


def test_production_refuses_to_start_with_the_sandbox_beside_real_channel_credentials(tmp_path):
    result = _production_check(tmp_path, KAMENG_SANDBOX="1", **REAL_ALIPAY)
    assert result.returncode != 0
    assert "KAMENG_SANDBOX must be off in production when real channel credentials are set" in result.stderr


@pytest.mark.parametrize(
    "env", [{"KAMENG_SANDBOX": "1"}, REAL_ALIPAY], ids=["sandbox-without-credentials", "credentials-only"]
)
def test_production_starts_with_the_sandbox_alone_or_with_real_channels_alone(tmp_path, env):
    result = _production_check(tmp_path, **env)
    assert result.returncode == 0, result.stderr
