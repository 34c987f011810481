"""Every 429 tells the client when to come back: walks the error catalogues and reaches every 429 code through the
real HTTP stack (the API, and the pages that can answer it), checking each answer carries `Retry-After`.

The outside review found two 429s without it: too many open tickets (which is a state, not a rate: it is a 409
now) and the screenshot quota when nothing had been uploaded in the window, i.e. one screenshot larger than the
whole quota (waiting never makes room for it: a 422 now). A new 429 code fails
`test_every_429_code_in_the_catalogues_is_reached_here` until a line for it is added to `LIMITS` below.
"""

import io
import os
from collections.abc import Callable

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from kameng.core.errors import catalogue
from kameng.core.roles import Role
from kameng.support import services as support
from kameng.support.models import Ticket, TicketMessage
from tests.factories import PASSWORD, UserFactory, api_client, place_order, post_json, stocked_product

pytestmark = pytest.mark.django_db


def _signed_in(user) -> Client:
    browser = Client()
    browser.force_login(user)
    return browser


def _png(size=(200, 200)) -> SimpleUploadedFile:
    """Noise, so the re-encoded file stays about as large as the upload (about 120 KB at 200 × 200)."""
    out = io.BytesIO()
    Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).save(out, "PNG")
    return SimpleUploadedFile("shot.png", out.getvalue(), content_type="image/png")


# --- how each limit is reached: (code, surface) -> a function of pytest's `settings` returning the refused answer --


def _guessed(settings) -> str:
    """Five wrong passwords for one name; returns the name, whose next attempt is refused."""
    user = UserFactory(role=Role.OPERATOR)
    for _ in range(5):
        post_json(Client(), "/api/v1/auth/token", {"username": user.username, "password": "wrong"})
    return user.username


def login_api(settings):
    name = _guessed(settings)
    return post_json(Client(), "/api/v1/auth/token", {"username": name, "password": PASSWORD})


def login_page(settings):
    name = _guessed(settings)
    return Client().post("/accounts/login/", {"username": name, "password": PASSWORD})


def login_admin(settings):
    name = _guessed(settings)
    return Client().post(
        "/admin/login/?next=/admin/", {"username": name, "password": PASSWORD, "next": "/admin/"}
    )


def _order_api(client: Client, sku: str, quantity: int = 1):
    return post_json(client, "/api/v1/orders", {"sku": sku, "quantity": quantity, "channel": "alipay"})


def _order_page(browser: Client, sku: str, quantity: int = 1):
    return browser.post("/orders/checkout/", {"sku": sku, "quantity": str(quantity), "channel": "alipay"})


def orders_rate(settings, *, page: bool = False):
    settings.KAMENG_RATE_ORDERS = "1/600"
    product, buyer = stocked_product(keys=5), UserFactory()
    place_order(buyer, product)
    return _order_page(_signed_in(buyer), product.sku) if page else _order_api(api_client(buyer), product.sku)


def unpaid_orders(settings, *, page: bool = False):
    product, buyer = stocked_product(keys=5), UserFactory()
    for _ in range(settings.KAMENG_MAX_UNPAID_ORDERS):
        place_order(buyer, product)
    return _order_page(_signed_in(buyer), product.sku) if page else _order_api(api_client(buyer), product.sku)


def reserved_keys(settings, *, page: bool = False):
    product, buyer = stocked_product(keys=40), UserFactory()
    place_order(buyer, product, quantity=settings.KAMENG_MAX_RESERVED_KEYS)
    return _order_page(_signed_in(buyer), product.sku) if page else _order_api(api_client(buyer), product.sku)


def tickets_rate(settings, *, page: bool = False):
    settings.KAMENG_RATE_TICKETS = "1/600"
    member = UserFactory()
    support.file_ticket(user=member, category="other", reason="第一个")
    if page:
        return _signed_in(member).post("/support/tickets/new/", {"category": "other", "reason": "第二个"})
    return post_json(api_client(member), "/api/v1/support/tickets", {"category": "other", "reason": "第二个"})


def replies_rate(settings):
    settings.KAMENG_RATE_TICKET_REPLIES = "1/600"
    member = UserFactory()
    ticket = support.file_ticket(user=member, category="other", reason="x")
    support.reply(user=member, ticket_no=ticket.ticket_no, body="补充一")
    return _signed_in(member).post(f"/support/tickets/{ticket.ticket_no}/", {"body": "补充二"})


def complaints_rate(settings):
    settings.KAMENG_RATE_COMPLAINTS = "1/600"
    member = UserFactory()
    ticket = support.file_ticket(user=member, category="other", reason="x")
    support.file_complaint(user=member, about="ticket", about_ref=ticket.ticket_no, text="太慢")
    return _signed_in(member).post(
        "/support/complaints/new/", {"about": "ticket", "about_ref": ticket.ticket_no, "text": "还是太慢"}
    )


def screenshot_quota(settings):
    settings.KAMENG_MEMBER_ATTACHMENT_BYTES = 150 * 1024  # room for one noisy 200 × 200 picture, not two
    member = UserFactory()
    ticket = support.file_ticket(user=member, category="other", reason="x", screenshot=_png())
    return _signed_in(member).post(
        f"/support/tickets/{ticket.ticket_no}/", {"body": "再来一张", "attachment": _png()}
    )


LIMITS: dict[tuple[str, str], Callable] = {
    ("too_many_attempts", "api"): login_api,
    ("too_many_attempts", "login page"): login_page,
    ("too_many_attempts", "admin login"): login_admin,
    ("too_many_orders", "api"): orders_rate,
    ("too_many_orders", "checkout page"): lambda s: orders_rate(s, page=True),
    ("too_many_unpaid_orders", "api"): unpaid_orders,
    ("too_many_unpaid_orders", "checkout page"): lambda s: unpaid_orders(s, page=True),
    ("too_many_reserved_keys", "api"): reserved_keys,
    ("too_many_reserved_keys", "checkout page"): lambda s: reserved_keys(s, page=True),
    ("too_many_tickets", "api"): tickets_rate,
    ("too_many_tickets", "ticket form"): lambda s: tickets_rate(s, page=True),
    ("too_many_replies", "ticket page"): replies_rate,
    ("too_many_complaints", "complaint form"): complaints_rate,
    ("attachment_quota", "ticket page"): screenshot_quota,
}


def test_every_429_code_in_the_catalogues_is_reached_here():
    limits = {code.value for code in catalogue() if code.status == 429}
    assert limits == {code for code, _ in LIMITS}, "a 429 code without a line in LIMITS, or a line for no 429"


@pytest.mark.parametrize(("code", "surface"), list(LIMITS), ids=[f"{c} ({s})" for c, s in LIMITS])
def test_every_429_answer_says_when_to_come_back(code, surface, settings):
    answer = LIMITS[code, surface](settings)

    assert answer.status_code == 429
    assert int(answer["Retry-After"]) >= 1
    if answer["Content-Type"].startswith("application/json"):
        assert answer.json()["error"]["code"] == code


# --- the two that were 429 without Retry-After ---------------------------------------------------------------------


def _open_tickets_to_the_limit(settings, member) -> None:
    settings.KAMENG_RATE_TICKETS = "100/600"  # only the open tickets are under test
    for n in range(settings.KAMENG_MAX_OPEN_TICKETS):
        support.file_ticket(user=member, category="other", reason=f"问题 {n}")


def test_too_many_open_tickets_is_a_409_state_with_the_way_on_not_a_429(settings):
    member = UserFactory()
    _open_tickets_to_the_limit(settings, member)

    refused = post_json(
        api_client(member),
        "/api/v1/support/tickets",
        {"category": "other", "reason": "再一个"},
        **{"Accept-Language": "en"},
    )

    assert refused.status_code == 409 and "Retry-After" not in refused
    error = refused.json()["error"]
    assert error["code"] == "too_many_open_tickets"
    assert "add to one of them, or wait until support has dealt with them" in error["message"]
    assert Ticket.objects.filter(user=member).count() == settings.KAMENG_MAX_OPEN_TICKETS


def test_the_ticket_form_past_the_open_tickets_says_so_with_a_409_and_keeps_the_text(settings):
    member = UserFactory()
    _open_tickets_to_the_limit(settings, member)

    page = _signed_in(member).post(
        "/support/tickets/new/", {"category": "other", "reason": "第十一个工单的原文"}
    )

    assert page.status_code == 409 and "Retry-After" not in page
    text = page.content.decode()
    assert "请在已有的工单里补充,或等客服处理后再提交" in text and "第十一个工单的原文</textarea>" in text


def test_a_screenshot_larger_than_the_whole_quota_is_refused_422_not_a_limit_to_wait_out(settings):
    settings.KAMENG_MEMBER_ATTACHMENT_BYTES = (
        50 * 1024
    )  # smaller than the one picture, nothing uploaded before
    member = UserFactory()
    ticket = support.file_ticket(user=member, category="other", reason="x")

    page = _signed_in(member).post(
        f"/support/tickets/{ticket.ticket_no}/", {"body": "一张大图", "attachment": _png()}
    )

    assert page.status_code == 422 and "Retry-After" not in page
    assert "这张截图大于 30 天内可上传的截图总量" in page.content.decode()
    assert not TicketMessage.objects.filter(ticket=ticket).exclude(attachment="").exists()
    assert ticket.messages.count() == 1
