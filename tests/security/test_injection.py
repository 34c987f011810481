"""Injection: SQL-looking input in every search, lookup and filter gets an ordinary answer, and hostile uploads are
refused before anything is stored.

An ordinary answer is the one any other unknown value gets (the page with no results, a 404 for a number that is
not there), never a 5xx, never more rows than asked for, never another member's data, and the tables are intact.

To add a lookup: a line in LOOKUPS (who asks, how, and the answer any unknown value gets).
"""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from kameng.accounts.models import User
from kameng.core.roles import Role
from kameng.orders.models import Order
from kameng.support.models import Ticket, TicketMessage
from tests.factories import UserFactory, api_client, place_order, stocked_product

pytestmark = pytest.mark.django_db

INJECTIONS = [
    "' OR '1'='1",
    "' OR 1=1 --",
    "1; DROP TABLE orders_order; --",
    "%' UNION SELECT username, password, email FROM accounts_user --",
    '" OR ""="',
    "x') OR ('a'='a",
    "'; SELECT pg_sleep(5); --",
    "%_%",
]

# (what, who asks, method, URL with {x} for the hostile value, form, the status any unknown value gets)
LOOKUPS = [
    ("help search page", None, "get", "/help/search?q={x}", None, 200),
    ("help search API", None, "get", "/api/v1/help/search?q={x}", None, 200),
    ("order in the API", Role.MEMBER, "get", "/api/v1/orders/{x}", None, 404),
    ("console member search", Role.OPERATOR, "get", "/console/members/?q={x}", None, 200),
    ("console dashboard filters", Role.OPERATOR, "get", "/console/?from={x}&to={x}&plan={x}", None, 200),
    (
        "console CSV export filters",
        Role.OPERATOR,
        "get",
        "/console/export/revenue.csv?from={x}&plan={x}",
        None,
        422,  # a "from" that is not a date is refused with its message, as any other non-date is
    ),
    (
        "console agreement filters",
        Role.OPERATOR,
        "get",
        "/console/agreements/?status={x}&channel={x}&page={x}",
        None,
        200,
    ),
    ("admin user search", Role.ADMIN, "get", "/admin/accounts/user/?q={x}", None, 200),
    ("support queue filters", Role.SUPPORT, "get", "/support/queue/?status={x}&category={x}", None, 200),
    ("checkout sku", Role.MEMBER, "post", "/orders/checkout/", {"sku": "{x}", "channel": "alipay"}, 404),
    (
        "ticket proof order number",
        Role.MEMBER,
        "post",
        "/support/tickets/new/",
        {"category": "refund", "order_no": "{x}", "reason": "退款"},
        404,
    ),
    (
        "complaint reference",
        Role.MEMBER,
        "post",
        "/support/complaints/new/",
        {"about": "refund", "about_ref": "{x}", "text": "投诉"},
        404,
    ),
    ("login name", None, "post", "/accounts/login/", {"username": "{x}", "password": "x"}, 401),
]


@pytest.fixture
def others_data():
    """Another member's order and credentials: what an injection would try to bring out."""
    victim = UserFactory(username="victim_member")
    order = place_order(victim, stocked_product(keys=2))
    return victim, order


@pytest.mark.parametrize(
    ("what", "role", "method", "url", "form", "status"), LOOKUPS, ids=[row[0] for row in LOOKUPS]
)
def test_sql_looking_input_gets_the_answer_any_unknown_value_gets(
    what, role, method, url, form, status, others_data, settings
):
    # An unknown login name still costs one password hash (so timing tells nothing); a fast hasher keeps eight
    # probes cheap. The stored hashes stay Argon2.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *settings.PASSWORD_HASHERS]
    victim, order = others_data
    client = Client()
    if role and url.startswith("/api/"):
        client = api_client(UserFactory(role=role))
    elif role:
        client.force_login(UserFactory(role=role))
    leaks = (victim.password, victim.email, order.order_no)

    for hostile in INJECTIONS:
        if method == "get":
            answer = client.get(url.replace("{x}", hostile.replace("%", "%25").replace("#", "%23")))
        else:
            answer = client.post(url, {k: v.replace("{x}", hostile) for k, v in form.items()})
        assert answer.status_code == status, (hostile, answer.status_code, answer.content[:300])
        body = answer.content.decode()
        assert not [leak for leak in leaks if leak in body], hostile

    assert User.objects.filter(pk=victim.pk).exists() and Order.objects.filter(pk=order.pk).exists()


def test_the_help_search_finds_the_same_for_an_injection_as_for_its_words():
    """The search works on the words, not on SQL: quoting tricks add no results."""
    plain = Client().get("/api/v1/help/search", {"q": "退订"}).json()["results"]
    tricked = Client().get("/api/v1/help/search", {"q": "退订' OR '1'='1"}).json()["results"]

    assert plain and [r["url"] for r in tricked] == [r["url"] for r in plain]


# --- hostile uploads ----------------------------------------------------------------------------------------------


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(out, "PNG")
    return out.getvalue()


HOSTILE_UPLOADS = {
    # A GIF header that is also a script (GIFAR-style): Pillow reads a GIF, which is not on the list.
    "GIF/JavaScript polyglot": (
        "shot.png",
        b"GIF89a/*\x01\x00\x01\x00\x00\x00\x00*/=alert(1);//" + b"\x00" * 16,
        "image/png",
    ),
    "SVG with a script": (
        "shot.svg",
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        "image/svg+xml",
    ),
    "SVG named .png": (
        "shot.png",
        b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
        "image/png",
    ),
    "PHP file named .png": ("shell.png", b"<?php system($_GET['c']); ?>", "image/png"),
    "HTML page named .jpg": ("shot.jpg", b"<html><script>alert(1)</script></html>", "image/jpeg"),
    "PHP behind a PNG signature": (
        "shell.png",
        b"\x89PNG\r\n\x1a\n<?php system($_GET['c']); ?>",
        "image/png",
    ),
}


@pytest.fixture
def private_media(settings, tmp_path):
    """Where attachments are stored, empty at the start, so a test can see what was written there."""
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def _stored(folder) -> list:
    return [p for p in folder.rglob("*") if p.is_file()]


@pytest.mark.parametrize("upload", HOSTILE_UPLOADS)
def test_a_hostile_screenshot_is_refused_and_nothing_is_stored(upload, private_media, member, shop_state):
    name, content, content_type = HOSTILE_UPLOADS[upload]
    client = Client()
    client.force_login(member)
    before = shop_state()

    answer = client.post(
        "/support/tickets/new/",
        {
            "category": "other",
            "reason": "截图",
            "screenshot": SimpleUploadedFile(name, content, content_type),
        },
    )

    assert answer.status_code == 422
    assert shop_state() == before and _stored(private_media) == []


def test_a_hostile_reply_attachment_is_refused_and_nothing_is_stored(private_media, member, shop_state):
    client = Client()
    client.force_login(member)
    client.post("/support/tickets/new/", {"category": "other", "reason": "截图"})
    ticket = Ticket.objects.get(user=member)
    before = shop_state()

    name, content, content_type = HOSTILE_UPLOADS["PHP file named .png"]
    answer = client.post(
        f"/support/tickets/{ticket.ticket_no}/",
        {"body": "附件", "attachment": SimpleUploadedFile(name, content, content_type)},
    )

    assert answer.status_code == 422
    assert shop_state() == before and _stored(private_media) == []


def test_a_real_image_with_a_page_appended_is_kept_under_our_name_and_served_as_an_image(
    private_media, member
):
    """A PNG that decodes, with HTML after its end: it is an image, so it is kept, but under a random name of
    ours (never the sender's path) and served as image/png that no browser may sniff into a page."""
    polyglot = png_bytes() + b"<html><script>alert(1)</script></html>"
    client = Client()
    client.force_login(member)

    client.post(
        "/support/tickets/new/",
        {
            "category": "other",
            "reason": "截图",
            "screenshot": SimpleUploadedFile("../../../../static/evil.html", polyglot, "text/html"),
        },
    )

    message = TicketMessage.objects.exclude(attachment="").get(ticket__user=member)
    stored = _stored(private_media)
    assert len(stored) == 1 and stored[0].suffix == ".png" and stored[0].is_relative_to(private_media)
    assert "evil" not in message.attachment.name and ".." not in message.attachment.name
    served = client.get(f"/support/attachments/{message.pk}/")
    assert served["Content-Type"] == "image/png" and served["X-Content-Type-Options"] == "nosniff"


def test_a_form_post_to_the_key_import_endpoint_is_refused_not_a_server_error(shop_state):
    """The endpoint takes JSON from the import page; a form post (its body already read for the CSRF check) is a
    bad chunk, answered as such."""
    operator = Client()
    operator.force_login(UserFactory(role=Role.OPERATOR))
    before = shop_state()

    answer = operator.post("/console/keys/import/chunk/", {"product": "1", "lines": "KEY-1"})

    assert answer.status_code == 422 and answer.json()["error"]["code"] == "bad_chunk"
    assert shop_state() == before
