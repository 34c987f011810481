import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from kameng.core import clock
from kameng.core.roles import Role
from kameng.membership import cancellation
from kameng.membership.models import Cancellation, Membership
from kameng.orders.models import Order
from kameng.payments.models import Refund
from kameng.support import evidence, services, sla
from kameng.support.error_codes import SupportErrorCode as E
from kameng.support.models import Complaint, Ticket, TicketMessage
from tests.factories import (
    PlanFactory,
    UserFactory,
    api_client,
    join_vip,
    place_order,
    post_json,
    refusal,
    stocked_product,
)

pytestmark = pytest.mark.django_db


def png(size=(4, 4)) -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", size, "red").save(out, "PNG")
    return SimpleUploadedFile("shot.png", out.getvalue(), content_type="image/png")


def member_with_vip(auto_renew=True, **plan):
    user = UserFactory()
    membership = join_vip(user, PlanFactory(**plan), auto_renew=auto_renew)
    order = Order.objects.get(user=user, kind="membership")
    return user, membership, order


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def agent(role=Role.SUPPORT):
    return UserFactory(role=role)


def test_a_membership_order_number_marks_the_ticket_verified():
    user, _, order = member_with_vip()
    ticket = services.file_ticket(
        user=user, category="cancel_membership", order_no=order.order_no, reason="不想要了"
    )
    assert ticket.proof_verified is True and ticket.is_vip is True


def test_a_goods_order_of_the_member_is_not_proof_of_a_membership_purchase():
    user = UserFactory()
    goods = place_order(user, stocked_product())
    ticket = services.file_ticket(
        user=user, category="cancel_membership", order_no=goods.order_no, reason="x"
    )
    assert ticket.proof_verified is False


def test_someone_elses_or_a_forged_order_number_is_refused_and_nothing_is_stored():
    _, _, order = member_with_vip()
    stranger = UserFactory()
    for number in (order.order_no, "V20260101000000000000"):
        with refusal(E.UNKNOWN_ORDER):
            services.file_ticket(user=stranger, category="refund", order_no=number, reason="x")
    assert not Ticket.objects.exists()


def test_a_screenshot_that_is_not_an_image_or_too_large_is_refused(settings):
    user = UserFactory()
    fake = SimpleUploadedFile("shot.png", b"<script>alert(1)</script>", content_type="image/png")
    with refusal(E.ATTACHMENT_NOT_IMAGE):
        services.file_ticket(user=user, category="other", reason="x", screenshot=fake)
    settings.KAMENG_MAX_ATTACHMENT_BYTES = 100
    with refusal(E.ATTACHMENT_TOO_LARGE):
        services.file_ticket(user=user, category="other", reason="x", screenshot=png((200, 200)))
    assert not Ticket.objects.exists() and not TicketMessage.objects.exists()


def test_member_b_cannot_read_member_as_ticket_or_its_attachment():
    a, b = UserFactory(), UserFactory()
    ticket = services.file_ticket(user=a, category="other", reason="我的问题", screenshot=png())
    message = ticket.messages.get()
    assert logged_in(a).get(f"/support/attachments/{message.pk}/")["Content-Type"] == "image/png"
    assert logged_in(b).get(f"/support/tickets/{ticket.ticket_no}/").status_code == 404
    assert logged_in(b).get(f"/support/attachments/{message.pk}/").status_code == 404
    assert logged_in(agent()).get(f"/support/attachments/{message.pk}/").status_code == 200
    assert logged_in(UserFactory(role=Role.OPERATOR)).get("/support/queue/").status_code == 404


def test_a_reply_to_a_closed_ticket_is_refused():
    user = UserFactory()
    ticket = services.file_ticket(user=user, category="other", reason="x")
    services.reject(agent=agent(), ticket_no=ticket.ticket_no, reason="不属于售后范围")
    with refusal(E.TICKET_CLOSED):
        services.reply(user=user, ticket_no=ticket.ticket_no, body="再问一次")


def test_approving_a_cancellation_ticket_runs_the_same_cancellation_with_the_agent_recorded():
    user, membership, order = member_with_vip()
    ticket = services.file_ticket(
        user=user, category="cancel_membership", order_no=order.order_no, reason="退订"
    )
    staff = agent()
    services.approve(agent=staff, ticket_no=ticket.ticket_no, mode="end_of_period")
    ticket.refresh_from_db()
    receipt = Cancellation.objects.get(membership=membership)
    assert ticket.status == Ticket.Status.APPROVED and ticket.cancellation == receipt
    assert (receipt.source, receipt.actor) == ("support", staff)
    membership.refresh_from_db()
    assert membership.auto_renew is False


def test_rejecting_needs_a_written_reason_the_member_sees():
    user = UserFactory()
    ticket = services.file_ticket(user=user, category="order", reason="没收到")
    with refusal(E.EMPTY_TEXT):
        services.reject(agent=agent(), ticket_no=ticket.ticket_no, reason="  ")
    services.reject(agent=agent(), ticket_no=ticket.ticket_no, reason="卡密已于 10:02 发放,请查看订单页")
    page = logged_in(user).get(f"/support/tickets/{ticket.ticket_no}/").content.decode()
    assert "卡密已于 10:02 发放" in page


def test_support_cannot_approve_a_refund_above_the_quote_but_finance_can():
    user, _, order = member_with_vip(price_fen=3000)
    clock.advance(seconds=10 * 86400)  # outside the 48-hour window: the quote is pro rata
    ticket = services.file_ticket(user=user, category="refund", order_no=order.order_no, reason="扣错了")
    _, quote_id = cancellation.refund_quote(user=user)
    above = {"mode": "immediate", "quote_id": quote_id, "above_policy": True, "refund_fen": 3000}
    with refusal(E.FINANCE_ROLE_REQUIRED):
        services.approve(agent=agent(), ticket_no=ticket.ticket_no, above_policy_reason="扣错了", **above)
    assert not Cancellation.objects.exists()
    services.approve(
        agent=agent(Role.FINANCE), ticket_no=ticket.ticket_no, above_policy_reason="扣错了", **above
    )
    assert Refund.objects.get().amount_fen == 3000


def test_members_cannot_approve_tickets():
    user = UserFactory()
    ticket = services.file_ticket(user=user, category="other", reason="x")
    with refusal(E.AGENTS_ONLY):
        services.approve(agent=user, ticket_no=ticket.ticket_no)


def test_an_overdue_cancellation_ticket_turns_auto_renew_off_exactly_once_with_a_receipt_saying_why():
    user, membership, order = member_with_vip()
    ticket = services.file_ticket(
        user=user, category="cancel_membership", order_no=order.order_no, reason="退订"
    )
    clock.advance(seconds=int((ticket.due_at - clock.now()).total_seconds()) + 60)
    assert sla.escalate_overdue() == 1
    assert sla.escalate_overdue() == 0
    ticket.refresh_from_db()
    membership.refresh_from_db()
    assert ticket.overdue_at and ticket.auto_renew_stopped_at and membership.auto_renew is False
    receipt = Cancellation.objects.get(membership=membership)
    assert (
        receipt.source == "support_overdue" and receipt.get_source_display() == "客服逾期未处理,自动关闭续费"
    )


def test_the_queue_puts_vip_tickets_first_then_the_nearest_deadline():
    plain = services.file_ticket(user=UserFactory(), category="other", reason="x")
    vip_user, _, _ = member_with_vip()
    vip = services.file_ticket(user=vip_user, category="other", reason="y")
    page = logged_in(agent()).get("/support/queue/").content.decode()
    assert page.index(vip.ticket_no) < page.index(plain.ticket_no)


def test_api_files_a_ticket():
    user, _, order = member_with_vip()
    answer = post_json(
        api_client(user),
        "/api/v1/support/tickets",
        {"category": "cancel_membership", "order_no": order.order_no, "reason": "退订"},
    )
    assert answer.status_code == 201
    body = answer.json()
    assert body["verified"] is True and body["status"] == "open" and body["due_at"].endswith("+08:00")
    assert (
        post_json(api_client(user), "/api/v1/support/tickets", {"category": "x", "reason": "y"}).status_code
        == 422
    )


def test_a_complaint_needs_text_and_a_reference_of_the_members_own():
    user = UserFactory()
    ticket = services.file_ticket(user=user, category="other", reason="x")
    with refusal(E.EMPTY_TEXT):
        services.file_complaint(user=user, about="ticket", about_ref=ticket.ticket_no, text=" ")
    with refusal(E.UNKNOWN_REFERENCE):
        services.file_complaint(user=UserFactory(), about="ticket", about_ref=ticket.ticket_no, text="不满")
    complaint = services.file_complaint(
        user=user, about="ticket", about_ref=ticket.ticket_no, text="处理太慢"
    )
    assert complaint.due_at > complaint.created_at
    assert Complaint.objects.count() == 1


def test_the_complaint_page_names_12315_and_what_to_bring():
    page = logged_in(UserFactory()).get("/support/complaints/new/").content.decode()
    assert "12315" in page and "证据包" in page and "订单号" in page


def test_markup_in_a_ticket_is_never_rendered_unescaped():
    user = UserFactory()
    ticket = services.file_ticket(user=user, category="other", reason="<script>alert(1)</script>")
    page = logged_in(user).get(f"/support/tickets/{ticket.ticket_no}/").content.decode()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page


def test_the_evidence_bundle_verifies_and_fails_after_any_edit():
    user, membership, order = member_with_vip()
    services.file_ticket(user=user, category="cancel_membership", order_no=order.order_no, reason="退订")
    document = json.loads(logged_in(user).get("/support/evidence.json").content)
    assert evidence.verify_bundle(document)
    bundle = document["bundle"]
    assert bundle["memberships"][0]["consent"]["disclosure_shown"]["next_charge_fen"] == membership.price_fen
    assert bundle["tickets"][0]["proof_verified"] is True
    edited = json.loads(json.dumps(document))
    edited["bundle"]["memberships"][0]["price_fen"] += 1
    assert not evidence.verify_bundle(edited)
    forged = {**document, "sha256": evidence.hashlib.sha256(evidence.canonical(edited["bundle"])).hexdigest()}
    forged["bundle"] = edited["bundle"]
    assert not evidence.verify_bundle(forged)  # a recomputed digest without the site's key does not pass


def test_the_evidence_pdf_downloads():
    user, _, _ = member_with_vip()
    answer = logged_in(user).get("/support/evidence.pdf")
    assert answer["Content-Type"] == "application/pdf" and answer.content.startswith(b"%PDF")


def test_membership_status_is_unchanged_by_filing():
    user, membership, order = member_with_vip()
    services.file_ticket(user=user, category="cancel_membership", order_no=order.order_no, reason="x")
    assert Membership.objects.get(pk=membership.pk).auto_renew is True


def test_an_unanswered_complaint_is_flagged_overdue_once():
    user = UserFactory()
    ticket = services.file_ticket(user=user, category="other", reason="x")
    complaint = services.file_complaint(user=user, about="ticket", about_ref=ticket.ticket_no, text="太慢")
    clock.advance(seconds=int((complaint.due_at - clock.now()).total_seconds()) + 60)
    sla.escalate_overdue()
    sla.escalate_overdue()
    complaint.refresh_from_db()
    assert complaint.overdue_at is not None
    from kameng.core.models import AuditLog

    assert AuditLog.objects.filter(action="complaint.overdue_escalated").count() == 1
