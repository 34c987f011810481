"""Member B going after member A's things by their numbers: orders and their card keys, receipts, tickets and
their screenshots, inbox messages, membership, complaints, the evidence bundle.

The answer is 404 (never 403): someone else's object must look exactly like one that does not exist, so probing
numbers tells nothing. Every row is checked both ways: B gets 404 and changes nothing, and A, on the very same URL,
does not get 404 (so a row that points at the wrong URL cannot pass by accident).

To add an object: one line in OWN_OBJECTS (a URL template over A's world, filled by `world` below).
"""

import io
import json
from dataclasses import dataclass

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from kameng.accounts.models import User
from kameng.core.roles import Role
from kameng.membership import cancellation
from kameng.membership.models import Cancellation
from kameng.notifications.models import Notification
from kameng.support import services as support
from kameng.support.models import TicketMessage
from tests.factories import PlanFactory, UserFactory, join_vip, pay_in_sandbox, place_order, stocked_product

pytestmark = pytest.mark.django_db


def screenshot() -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(out, "PNG")
    return SimpleUploadedFile("shot.png", out.getvalue(), content_type="image/png")


@dataclass(frozen=True)
class World:
    """Member A's things, by the numbers that name them in URLs; and member B, who goes after them."""

    a: User
    b: User
    order_no: str
    receipt_no: str
    refund_no: str
    ticket_no: str
    message_id: int
    notification_id: int
    complaint_no: str
    username: str
    agreement_id: int

    def numbers(self) -> list[str]:
        return [self.order_no, self.receipt_no, self.refund_no, self.ticket_no, self.complaint_no]


@pytest.fixture(scope="class")
def world(class_db) -> World:
    """Made once for the class of probes. A bought a card key, was a VIP and left with a refund (a receipt), is a VIP
    again with auto-renew, filed a ticket with a screenshot and a complaint about it, and has inbox messages."""
    a, b = UserFactory(username="member_a"), UserFactory(username="member_b")
    order = place_order(a, stocked_product(keys=1))
    pay_in_sandbox(order)
    join_vip(a, PlanFactory(price_fen=3000))
    left = cancellation.cancel_membership(user=a, mode="immediate")
    renewing = join_vip(a, PlanFactory(), auto_renew=True)
    ticket = support.file_ticket(user=a, category="other", reason="屏幕截图如下", screenshot=screenshot())
    complaint = support.file_complaint(user=a, about="ticket", about_ref=ticket.ticket_no, text="太慢了")
    return World(
        a=a,
        b=b,
        order_no=order.order_no,
        receipt_no=left.receipt_no,
        refund_no=Cancellation.objects.get(pk=left.pk).refund.refund_no,
        ticket_no=ticket.ticket_no,
        message_id=TicketMessage.objects.exclude(attachment="").get(ticket=ticket).pk,
        notification_id=Notification.objects.filter(user=a).latest("pk").pk,
        complaint_no=complaint.complaint_no,
        username=a.username,
        agreement_id=renewing.agreement.pk,
    )


def page_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def request(client: Client, method: str, url: str, body: dict | None):
    if method == "get":
        return client.get(url)
    if url.startswith("/api/"):
        return client.post(url, json.dumps(body or {}), content_type="application/json")
    return client.post(url, body or {})


# (what, method, URL over A's world, body). Pages use the session, /api/ the Bearer token.
OWN_OBJECTS = [
    ("order page with its card key", "get", "/orders/{order_no}/", None),
    ("order in the API with its card key", "get", "/api/v1/orders/{order_no}", None),
    ("cancellation receipt", "get", "/member/receipts/{receipt_no}/", None),
    ("ticket page", "get", "/support/tickets/{ticket_no}/", None),
    ("reply on the ticket", "post", "/support/tickets/{ticket_no}/", {"body": "now it is mine"}),
    ("ticket screenshot", "get", "/support/attachments/{message_id}/", None),
    ("inbox message marked read", "post", "/notifications/{notification_id}/read/", None),
    ("inbox message marked read in the API", "post", "/api/v1/notifications/{notification_id}/read", None),
]

# Membership acts on the caller's own: there is no number to name another member's by. B, without a membership,
# is told so (404 no_membership) and A's membership is untouched.
MEMBERSHIP_ACTIONS = [
    ("cancel now in the API", "/api/v1/membership/cancel", {"mode": "immediate"}),
    ("cancel at period end in the API", "/api/v1/membership/cancel", {"mode": "end_of_period"}),
    ("auto-renew off in the API", "/api/v1/membership/auto-renew", {"enabled": False}),
    ("cancel now on the page", "/member/cancel/", {"mode": "immediate"}),
    ("refund quote in the API", "/api/v1/membership/refund-quote", None),
]

# Pages that list or bundle the caller's own things.
OWN_LISTS = ["/orders/", "/member/", "/member/cancel/", "/support/tickets/", "/support/evidence.json"]

# Staff pages: a member (here A, on A's own records) is answered 404 as if they did not exist.
STAFF_ONLY = [
    ("get", "/console/"),
    ("get", "/console/export/revenue.csv"),
    ("get", "/console/agreements/"),
    ("post", "/console/agreements/{agreement_id}/query/"),
    ("get", "/console/members/?q={username}"),
    ("get", "/console/members/{username}/"),
    ("post", "/console/members/{username}/refund/"),
    ("get", "/console/keys/import/"),
    ("post", "/console/keys/import/chunk/"),
    ("get", "/support/queue/"),
    ("post", "/support/tickets/{ticket_no}/decide/"),
]


class TestMemberBGoesAfterMemberA:
    """The probes share one world, made once for the class; each runs in a savepoint rolled back after it."""

    @pytest.mark.parametrize(("what", "method", "url", "body"), OWN_OBJECTS, ids=[r[0] for r in OWN_OBJECTS])
    def test_another_members_object_answers_404_and_stays_as_it_was(
        self, what, method, url, body, world, api_client_for, shop_state
    ):
        url = url.format(**vars(world))
        client_of = api_client_for if url.startswith("/api/") else page_client
        attacker, owner = (
            client_of(world.b),
            client_of(world.a),
        )  # before the snapshot: a token is audit-logged
        before = shop_state()

        answer = request(attacker, method, url, body)

        assert answer.status_code == 404, answer.content[:300]
        assert b"KEY-" not in answer.content  # no card secret (factory keys read KEY-…)
        assert shop_state() == before  # nothing written, not even a reveal in the audit log
        assert request(owner, method, url, body).status_code != 404  # the owner's own URL works

    @pytest.mark.parametrize(
        ("what", "url", "body"), MEMBERSHIP_ACTIONS, ids=[r[0] for r in MEMBERSHIP_ACTIONS]
    )
    def test_membership_actions_of_a_member_without_one_never_reach_another_members(
        self, what, url, body, world, api_client_for, shop_state
    ):
        client = api_client_for(world.b) if url.startswith("/api/") else page_client(world.b)
        before = shop_state()

        answer = request(client, "get" if body is None else "post", url, body)

        assert answer.status_code == 404, answer.content[:300]
        assert shop_state() == before

    def test_a_refund_quote_taken_by_another_member_is_refused_and_changes_nothing(
        self, world, api_client_for, shop_state
    ):
        join_vip(world.b, PlanFactory(price_fen=100))  # B's own, cheap membership
        quote_of_a = api_client_for(world.a).get("/api/v1/membership/refund-quote").json()["quote_id"]
        attacker = api_client_for(world.b)
        before = shop_state()

        answer = attacker.post(
            "/api/v1/membership/cancel",
            json.dumps({"mode": "immediate", "quote_id": quote_of_a}),
            content_type="application/json",
        )

        assert 400 <= answer.status_code < 500, answer.content[:300]
        assert shop_state() == before

    @pytest.mark.parametrize(
        ("about", "ref"), [("ticket", "ticket_no"), ("cancellation", "receipt_no"), ("refund", "refund_no")]
    )
    def test_a_complaint_about_another_members_ticket_receipt_or_refund_is_refused(
        self, about, ref, world, shop_state
    ):
        form = {"about": about, "about_ref": getattr(world, ref), "text": "我要投诉"}
        before = shop_state()

        assert page_client(world.b).post("/support/complaints/new/", form).status_code == 404

        assert shop_state() == before
        assert page_client(world.a).post("/support/complaints/new/", form).status_code == 302  # A may

    def test_a_ticket_citing_another_members_order_as_proof_is_refused(self, world, shop_state):
        form = {"category": "refund", "order_no": world.order_no, "reason": "退款"}
        before = shop_state()

        assert page_client(world.b).post("/support/tickets/new/", form).status_code == 404

        assert shop_state() == before
        assert page_client(world.a).post("/support/tickets/new/", form).status_code == 302

    @pytest.mark.parametrize("url", OWN_LISTS)
    def test_a_members_own_lists_and_evidence_show_nothing_of_another_member(self, url, world):
        theirs = page_client(world.b).get(url)
        own = page_client(world.a).get(url).content.decode()

        assert theirs.status_code == 200
        shown = [n for n in world.numbers() if n in own]
        assert shown, "A's own page lists A's things"
        assert not [n for n in shown if n in theirs.content.decode()]

    def test_the_evidence_pdf_is_the_callers_own(self, world):
        answer = page_client(world.b).get("/support/evidence.pdf")

        assert answer.status_code == 200 and answer["Content-Type"] == "application/pdf"
        assert f"kameng-evidence-{world.b.pk}.pdf" in answer["Content-Disposition"]

    @pytest.mark.parametrize(("method", "url"), STAFF_ONLY, ids=[u for _, u in STAFF_ONLY])
    def test_staff_pages_answer_a_member_404_even_about_their_own_records(
        self, method, url, world, shop_state
    ):
        url = url.format(**vars(world))
        before = shop_state()

        answer = request(page_client(world.a), method, url, {"decision": "approve", "mode": "immediate"})

        assert answer.status_code == 404
        assert shop_state() == before
        staff = UserFactory(role=Role.OPERATOR if url.startswith("/console/") else Role.SUPPORT)
        assert request(page_client(staff), method, url, None).status_code != 404  # the page exists for staff
