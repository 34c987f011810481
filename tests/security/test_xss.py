"""Stored and reflected XSS: markup a member writes is shown as text on every page that shows it.

A member writes PAYLOAD into every field they can (through the pages, as they would); each page that shows the
field, to the member and to the agents, operators and administrators, must carry it escaped: the escaped form is
there (so the page really shows the field) and the raw markup is not. One check runs in Chromium on the agent's
ticket page: nothing fires, the markup is text, and the Content-Security-Policy header is there.

To add a field: write it in `world` (or, for a reflected one, add its request to REFLECTED) and add a line to SHOWN
for each page that shows it.
"""

from dataclasses import dataclass
from urllib.parse import quote

import pytest
from django.test import Client
from django.utils.html import escape

from kameng.accounts.models import User
from kameng.core.roles import Role
from kameng.membership.models import Cancellation
from kameng.support.models import Complaint, Ticket
from tests.browser.fixtures import log_in
from tests.factories import PASSWORD, PlanFactory, UserFactory, join_vip, stocked_product

PAYLOAD = "<script>alert(1)</script>\"'><img src=x onerror=alert(1)>"
# Django's EmailField takes a quoted local part, so markup fits in an e-mail address a member registers with.
EMAIL_PAYLOAD = '"<script>alert(1)</script>"@example.com'
RAW = ("<script>alert(1)", "<img src=x")  # what must never reach a page unescaped
ESCAPED = escape("<script>alert(1)</script>")  # what shows the field was rendered, as text


def assert_shown_escaped(html: str) -> None:
    assert ESCAPED in html, "the page does not show the field at all"
    for raw in RAW:
        assert raw not in html


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- in Chromium ---------------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_agents_ticket_page_runs_none_of_a_members_markup_in_chromium(page, live_server):
    from kameng.support import services as support

    member = UserFactory()
    ticket = support.file_ticket(user=member, category="other", reason=PAYLOAD)
    agent = UserFactory(role=Role.SUPPORT)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    log_in(page, live_server.url, agent.username, PASSWORD)

    answer = page.goto(f"{live_server.url}/support/tickets/{ticket.ticket_no}/")

    policy = dict(d.strip().split(" ", 1) for d in answer.headers["content-security-policy"].split(";"))
    assert policy["script-src"].startswith("'self'") and "unsafe-inline" not in policy["script-src"]
    assert page.get_by_text("<script>alert(1)</script>").count() == 1  # shown as text
    assert page.locator("img[src='x']").count() == 0
    assert dialogs == []


# --- stored: written once through the pages, read on every page that shows it --------------------------------------


@dataclass(frozen=True)
class World:
    member: User
    ticket: Ticket
    receipt: Cancellation
    complaint: Complaint


@pytest.fixture(scope="class")
def world(class_db) -> World:
    """A member who wrote PAYLOAD everywhere they can: e-mail address, ticket reason, a reply, the cancel
    comment, a complaint."""
    client = Client()
    registered = client.post(
        "/accounts/register/", {"username": "xss_member", "email": EMAIL_PAYLOAD, "password": PASSWORD}
    )
    assert registered.status_code == 302, registered.content[:500]
    member = User.objects.get(username="xss_member")
    join_vip(member, PlanFactory())
    assert client.post("/support/tickets/new/", {"category": "other", "reason": PAYLOAD}).status_code == 302
    ticket = Ticket.objects.get(user=member)
    assert (
        client.post(f"/support/tickets/{ticket.ticket_no}/", {"body": PAYLOAD + " (reply)"}).status_code
        == 302
    )
    cancelled = client.post(
        "/member/cancel/", {"mode": "end_of_period", "reason": "other", "comment": PAYLOAD}
    )
    assert cancelled.status_code == 302
    complaint_form = {"about": "ticket", "about_ref": ticket.ticket_no, "text": PAYLOAD}
    assert client.post("/support/complaints/new/", complaint_form).status_code == 302
    return World(
        member=member,
        ticket=ticket,
        receipt=Cancellation.objects.get(membership__user=member),
        complaint=Complaint.objects.get(user=member),
    )


# (field, page over the world, who looks: "member" is the writer, else a staff role)
SHOWN = [
    ("ticket reason and reply", "/support/tickets/{ticket.ticket_no}/", "member"),
    ("ticket reason and reply", "/support/tickets/{ticket.ticket_no}/", Role.SUPPORT),
    ("ticket reason", "/admin/support/ticket/{ticket.pk}/change/", Role.ADMIN),
    ("cancel comment", "/member/receipts/{receipt.receipt_no}/", "member"),
    ("cancel comment", "/member/receipts/{receipt.receipt_no}/", Role.SUPPORT),
    ("cancel comment", "/admin/membership/cancellation/{receipt.pk}/change/", Role.ADMIN),
    ("complaint text", "/admin/support/complaint/{complaint.pk}/change/", Role.OPERATOR),
    ("e-mail address", "/console/members/{member.username}/", Role.OPERATOR),
    ("e-mail address", "/admin/accounts/user/{member.pk}/change/", Role.ADMIN),
]


@pytest.mark.django_db
class TestStoredFields:
    """The pages read what `world` wrote, made once for the class."""

    @pytest.mark.parametrize(("field", "url", "viewer"), SHOWN, ids=[f"{f} {u} {v}" for f, u, v in SHOWN])
    def test_a_stored_field_is_shown_escaped(self, field, url, viewer, world):
        reader = world.member if viewer == "member" else UserFactory(role=viewer)

        answer = signed_in(reader).get(url.format(**vars(world)))

        assert answer.status_code == 200
        assert_shown_escaped(answer.content.decode())

    def test_the_evidence_bundle_is_json_never_a_page(self, world):
        answer = signed_in(world.member).get("/support/evidence.json")

        assert answer["Content-Type"] == "application/json" and answer["X-Content-Type-Options"] == "nosniff"
        assert answer["Content-Disposition"].startswith("attachment;")
        assert answer.json()["bundle"]["tickets"][0]["messages"][0]["text"] == PAYLOAD  # kept as written


@pytest.mark.django_db
@pytest.mark.parametrize("via", ["page", "api"])
def test_a_user_name_with_markup_is_refused_at_registration(via):
    if via == "page":
        answer = Client().post(
            "/accounts/register/", {"username": PAYLOAD[:150], "email": "x@example.com", "password": PASSWORD}
        )
        assert answer.status_code == 422
        assert_shown_escaped(answer.content.decode())  # the form shows back what was typed, as text
    else:
        answer = Client().post(
            "/api/v1/auth/register",
            {"username": PAYLOAD, "email": "x@example.com", "password": PASSWORD},
            content_type="application/json",
        )
        assert answer.status_code == 422 and answer.json()["error"]["code"] == "bad_username"
    assert not User.objects.filter(username__contains="<").exists()


# --- reflected: what a request carries, shown back on the page it asks for ----------------------------------------

# (what, who asks, method, URL, form)
REFLECTED = [
    ("help search query", None, "get", f"/help/search?q={quote(PAYLOAD)}", None),
    ("console member search", Role.OPERATOR, "get", f"/console/members/?q={quote(PAYLOAD)}", None),
    ("complaint form reference", Role.MEMBER, "get", f"/support/complaints/new/?ref={quote(PAYLOAD)}", None),
    ("login name", None, "post", "/accounts/login/", {"username": PAYLOAD, "password": "wrong-password"}),
    ("checkout channel", Role.MEMBER, "post", "/orders/checkout/", {"sku": "{sku}", "channel": PAYLOAD}),
    (
        "checkout product number",
        Role.MEMBER,
        "post",
        "/orders/checkout/",
        {"sku": PAYLOAD, "channel": "alipay"},
    ),
    ("admin user search", Role.ADMIN, "get", f"/admin/accounts/user/?q={quote(PAYLOAD)}", None),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("what", "role", "method", "url", "form"), REFLECTED, ids=[r[0] for r in REFLECTED])
def test_a_reflected_field_is_shown_escaped(what, role, method, url, form):
    client = signed_in(UserFactory(role=role)) if role else Client()
    if form and form.get("sku") == "{sku}":
        form = {**form, "sku": stocked_product(keys=1).sku}

    answer = client.get(url) if method == "get" else client.post(url, form)

    assert answer.status_code < 500
    assert_shown_escaped(answer.content.decode())
