"""Support writes: filing tickets (with the purchase proof checked on the spot), the thread, approve and reject.

Approving a cancellation ticket runs exactly the self-service cancellation (same policy, same receipt, the same
binding quote), with the agent recorded; a refund above the policy is finance's explicit, reasoned, audited choice.
"""

import secrets

from django.core.files.base import ContentFile
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext_lazy

from kameng.core import clock, ids, locking
from kameng.core.audit import Source, log_action
from kameng.core.errors import DomainError
from kameng.core.roles import Role
from kameng.membership import cancellation
from kameng.membership.models import Cancellation, Membership
from kameng.membership.selectors import live_membership
from kameng.notifications.services import notify
from kameng.orders.models import Order
from kameng.payments.models import Refund
from kameng.support import limits
from kameng.support.error_codes import SupportErrorCode
from kameng.support.models import Complaint, Ticket, TicketMessage
from kameng.support.storage import Screenshot, screenshot_of
from kameng.support.workdays import add_working_days

SLA_WORKING_DAYS = 3
MAX_TEXT = 5000


def _text(value: str, *, field, required: bool = True) -> str:
    """`field` is the field's name in the reader's language (a lazy translation)."""
    value = (value or "").strip()
    if required and not value:
        raise DomainError(SupportErrorCode.EMPTY_TEXT, field=field)
    if len(value) > MAX_TEXT:
        raise DomainError(SupportErrorCode.TEXT_TOO_LONG, field=field, limit=MAX_TEXT)
    return value


def _verify_proof(user, order_no: str) -> bool:
    """True when the order is this member's membership purchase or renewal; an order that is not theirs (or does
    not exist) is refused outright, so nobody can file against someone else's purchase."""
    if not order_no:
        return False
    order = Order.objects.filter(order_no=order_no, user=user).only("kind", "status").first()
    if order is None:
        raise DomainError(SupportErrorCode.UNKNOWN_ORDER)
    return order.kind == Order.Kind.MEMBERSHIP and order.status == Order.Status.DELIVERED


def _attach(message: TicketMessage, image: Screenshot) -> None:
    message.attachment.save(f"{secrets.token_hex(16)}.{image.extension}", ContentFile(image.data), save=False)
    message.attachment_type = image.content_type
    message.attachment_bytes, message.attachment_sha256 = len(image.data), image.sha256
    message.original_sha256, message.original_bytes = image.original_sha256, image.original_bytes
    message.save(
        update_fields=[
            "attachment",
            "attachment_type",
            "attachment_bytes",
            "attachment_sha256",
            "original_sha256",
            "original_bytes",
        ]
    )


def file_ticket(
    *, user, category: str, order_no: str = "", reason: str, screenshot=None, source=Source.WEB
) -> Ticket:
    """Files a ticket. Its deadline is the end of the 3rd working day; VIP members' tickets sort first. Within
    the member's limits (support.limits): refused past them (429 for a rate, 409 for too many open tickets), before
    the screenshot is even decoded."""
    if category not in Ticket.Category.values:
        raise DomainError(SupportErrorCode.BAD_CATEGORY, choices=", ".join(Ticket.Category.values))
    reason = _text(reason, field=gettext_lazy("原因"))
    order_no = (order_no or "").strip()[:32]
    verified = _verify_proof(user, order_no)
    limits.look(user, limits.TICKET, attaching=screenshot is not None)
    image = screenshot_of(screenshot)  # decoded and re-encoded before the transaction: no lock held meanwhile
    return _file_ticket(
        user=user,
        category=category,
        order_no=order_no,
        verified=verified,
        reason=reason,
        image=image,
        source=source,
    )


@transaction.atomic
def _file_ticket(
    *, user, category: str, order_no: str, verified: bool, reason: str, image: Screenshot | None, source: str
) -> Ticket:
    limits.count(user, limits.TICKET, attachment_bytes=len(image.data) if image else 0)
    now = clock.now()
    membership = live_membership(user)
    ticket = Ticket.objects.create(
        ticket_no=ids.public_number("T"),
        user=user,
        category=category,
        order_no=order_no,
        proof_verified=verified,
        reason=reason,
        is_vip=bool(
            membership
            and membership.status == Membership.Status.ACTIVE
            and membership.plan.perk_priority_support
        ),
        created_at=now,
        due_at=add_working_days(now, SLA_WORKING_DAYS),
    )
    message = TicketMessage.objects.create(ticket=ticket, author=user, body=reason, created_at=now)
    if image is not None:
        _attach(message, image)
    log_action(
        action="ticket.filed",
        obj=ticket,
        actor=user,
        source=source,
        data={
            "category": category,
            "order_no": order_no,
            "verified": verified,
            "due_at": clock.iso(ticket.due_at),
        },
    )
    return ticket


def _ticket_for(user, ticket_no: str, *, lock: bool = False) -> Ticket:
    query = Ticket.objects.select_related("user").filter(ticket_no=ticket_no)
    ticket = locking.lock_one(query) if lock else query.first()
    if ticket is None or not (ticket.user_id == user.pk or is_agent(user)):
        raise DomainError(SupportErrorCode.UNKNOWN_TICKET)
    return ticket


def is_agent(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.has_role(Role.SUPPORT, Role.FINANCE))


def reply(*, user, ticket_no: str, body: str, attachment=None) -> TicketMessage:
    """A message in an open ticket, from its member or an agent; the member's within their limits."""
    ticket = _ticket_for(user, ticket_no)
    if ticket.status not in Ticket.OPEN_STATES:
        raise DomainError(SupportErrorCode.TICKET_CLOSED)
    body = _text(body, field=gettext_lazy("留言"))
    if ticket.user_id == user.pk:
        limits.look(user, limits.REPLY, attaching=attachment is not None)
    return _reply(user=user, ticket_no=ticket_no, body=body, image=screenshot_of(attachment))


@transaction.atomic
def _reply(*, user, ticket_no: str, body: str, image: Screenshot | None) -> TicketMessage:
    ticket = _ticket_for(user, ticket_no, lock=True)
    if ticket.status not in Ticket.OPEN_STATES:
        raise DomainError(SupportErrorCode.TICKET_CLOSED)
    from_staff = ticket.user_id != user.pk
    if not from_staff:  # after the ticket, as LOCK_ORDER has it
        limits.count(user, limits.REPLY, attachment_bytes=len(image.data) if image else 0)
    message = TicketMessage.objects.create(
        ticket=ticket, author=user, from_staff=from_staff, body=body, created_at=clock.now()
    )
    if image is not None:
        _attach(message, image)
    new_status = Ticket.Status.WAITING_MEMBER if from_staff else Ticket.Status.OPEN
    if ticket.status != new_status:
        ticket.status = new_status
        ticket.save(update_fields=["status"])
    log_action(action="ticket.message", obj=ticket, actor=user, source=Source.WEB, data={"staff": from_staff})
    if from_staff:
        _tell_member(ticket, kind="support.reply")
    return message


def _tell_member(ticket: Ticket, *, kind: str) -> None:

    notify(
        user=ticket.user,
        kind=kind,
        context={"ticket": ticket},
        link=reverse("support:ticket", args=[ticket.ticket_no]),
        dedupe_key=f"{kind}:{ticket.ticket_no}:{ticket.messages.count()}:{ticket.status}",
    )


def _resolve(ticket: Ticket, *, agent, status: str, resolution: str) -> None:
    ticket.status, ticket.resolved_at, ticket.resolved_by, ticket.resolution = (
        status,
        clock.now(),
        agent,
        resolution,
    )
    ticket.save(update_fields=["status", "resolved_at", "resolved_by", "resolution", "cancellation"])
    TicketMessage.objects.create(
        ticket=ticket, author=agent, from_staff=True, body=resolution, created_at=ticket.resolved_at
    )


def approve(
    *,
    agent,
    ticket_no: str,
    mode: str = "",
    quote_id: str = "",
    above_policy: bool = False,
    refund_fen: int | None = None,
    above_policy_reason: str = "",
    note: str = "",
) -> Ticket:
    """Approves a ticket. For 退订会员 / 退款 tickets it runs the member's cancellation in `mode` with the agent as
    its source, held to the quote the agent was shown (`quote_id`) exactly as the member's own cancel is: checked
    under the membership's lock, and a quote made stale meanwhile (savings used, a renewal…) raises
    `quotes.StaleQuote` carrying the new one, changing nothing. An amount is never typed in passing: a refund above
    the policy is its own choice (`above_policy`, the amount in `refund_fen`, a written reason), for finance only,
    against a quote, and audit-logged (docs/rules.md#6-support-tickets)."""
    if not is_agent(agent):
        raise DomainError(SupportErrorCode.AGENTS_ONLY)
    above_fen, reason = 0, ""
    if not above_policy:
        if refund_fen is not None:
            raise DomainError(SupportErrorCode.AMOUNT_WITHOUT_ABOVE_POLICY)
    else:
        if not agent.has_role(Role.FINANCE):
            raise DomainError(SupportErrorCode.FINANCE_ROLE_REQUIRED)
        if refund_fen is None or refund_fen < 1:
            raise DomainError(SupportErrorCode.BAD_REFUND_AMOUNT)
        if not quote_id:
            raise DomainError(SupportErrorCode.QUOTE_REQUIRED)
        above_fen = refund_fen
        reason = _text(above_policy_reason, field=gettext_lazy("高于政策退款的理由"))
    return _approve(
        agent=agent,
        ticket_no=ticket_no,
        mode=mode,
        quote_id=quote_id,
        above_fen=above_fen,
        reason=reason,
        note=note,
    )


@locking.retried_atomic  # ticket → membership → agreement → payment: a deadlock is retried once, not shown
def _approve(
    *, agent, ticket_no: str, mode: str, quote_id: str, above_fen: int, reason: str, note: str
) -> Ticket:
    ticket = _ticket_for(agent, ticket_no, lock=True)
    if ticket.status not in Ticket.OPEN_STATES:
        raise DomainError(SupportErrorCode.TICKET_DECIDED, status=ticket.get_status_display())
    made = None
    if ticket.category in (Ticket.Category.CANCEL_MEMBERSHIP, Ticket.Category.REFUND):
        mode = mode or (
            Cancellation.Mode.IMMEDIATE
            if ticket.category == Ticket.Category.REFUND
            else Cancellation.Mode.END_OF_PERIOD
        )
        if above_fen and mode != Cancellation.Mode.IMMEDIATE:
            raise DomainError(SupportErrorCode.ABOVE_POLICY_NEEDS_IMMEDIATE)
        # The ticket is locked; the cancel takes the membership next (the lock order) and decides the refund there.
        made = cancellation.cancel_membership(
            user=ticket.user,
            mode=mode,
            source=Cancellation.Source.SUPPORT,
            actor=agent,
            quote_id=quote_id,
            above_policy_fen=above_fen,
        )
        if (
            above_fen and made.refund_fen != above_fen
        ):  # cancelled before (the member, meanwhile): nothing was paid
            raise DomainError(SupportErrorCode.ALREADY_CANCELLED, receipt_no=made.receipt_no)
        ticket.cancellation = made
    elif above_fen:
        raise DomainError(SupportErrorCode.ABOVE_POLICY_NEEDS_IMMEDIATE)
    text = _text(note, field=gettext_lazy("备注"), required=False) or (
        f"已按退订政策处理,回执 {made.receipt_no}。" if made else "已处理。"
    )
    _resolve(ticket, agent=agent, status=Ticket.Status.APPROVED, resolution=text)
    log_action(
        action="ticket.approved",
        obj=ticket,
        actor=agent,
        source=Source.ADMIN,
        data={
            "receipt_no": made.receipt_no if made else "",
            "refund_fen": made.refund_fen if made else 0,
            "above_policy": bool(above_fen),
        },
    )
    if above_fen:
        log_action(
            action="ticket.refund_above_policy",
            obj=ticket,
            actor=agent,
            source=Source.ADMIN,
            data={
                "receipt_no": made.receipt_no,
                "refund_fen": made.refund_fen,
                "policy_refund_fen": made.quote.get("refund_fen", 0),
                "reason": reason[:500],
            },
        )
    _tell_member(ticket, kind="support.resolved")
    return ticket


@transaction.atomic
def reject(*, agent, ticket_no: str, reason: str) -> Ticket:
    """Rejects with a written reason the member reads."""
    if not is_agent(agent):
        raise DomainError(SupportErrorCode.AGENTS_ONLY)
    ticket = _ticket_for(agent, ticket_no, lock=True)
    if ticket.status not in Ticket.OPEN_STATES:
        raise DomainError(SupportErrorCode.TICKET_DECIDED, status=ticket.get_status_display())
    reason = _text(reason, field=gettext_lazy("原因"))
    _resolve(ticket, agent=agent, status=Ticket.Status.REJECTED, resolution=reason)
    log_action(
        action="ticket.rejected", obj=ticket, actor=agent, source=Source.ADMIN, data={"reason": reason[:200]}
    )
    _tell_member(ticket, kind="support.resolved")
    return ticket


# --- complaints (投诉) -------------------------------------------------------------------------------------------


def _complaint_target_exists(user, about: str, ref: str) -> bool:
    if about == Complaint.About.TICKET:
        return Ticket.objects.filter(user=user, ticket_no=ref).exists()
    if about == Complaint.About.CANCELLATION:
        return Cancellation.objects.filter(membership__user=user, receipt_no=ref).exists()
    return Refund.objects.filter(payment__order__user=user, refund_no=ref).exists()


@transaction.atomic
def file_complaint(*, user, about: str, about_ref: str, text: str) -> Complaint:
    if about not in Complaint.About.values:
        raise DomainError(SupportErrorCode.BAD_ABOUT, choices=", ".join(Complaint.About.values))
    text = _text(text, field=gettext_lazy("投诉内容"))
    about_ref = (about_ref or "").strip()[:32]
    if not _complaint_target_exists(user, about, about_ref):
        raise DomainError(SupportErrorCode.UNKNOWN_REFERENCE)
    limits.count(user, limits.COMPLAINT)
    now = clock.now()
    complaint = Complaint.objects.create(
        complaint_no=ids.public_number("P"),
        user=user,
        about=about,
        about_ref=about_ref,
        text=text,
        created_at=now,
        due_at=add_working_days(now, SLA_WORKING_DAYS),
    )
    log_action(action="complaint.filed", obj=complaint, actor=user, source=Source.WEB, data={"about": about})
    return complaint


@transaction.atomic
def answer_complaint(*, agent, complaint_no: str, answer: str) -> Complaint:
    if not agent.has_role(Role.OPERATOR, Role.SUPPORT):
        raise DomainError(SupportErrorCode.STAFF_ONLY)
    complaint = locking.lock_one(Complaint.objects.filter(complaint_no=complaint_no))
    if complaint is None:
        raise DomainError(SupportErrorCode.UNKNOWN_COMPLAINT)
    if complaint.answered_at is not None:
        raise DomainError(SupportErrorCode.ALREADY_ANSWERED)
    complaint.answer, complaint.answered_at, complaint.answered_by = (
        _text(answer, field=gettext_lazy("答复")),
        clock.now(),
        agent,
    )
    complaint.save(update_fields=["answer", "answered_at", "answered_by"])
    log_action(action="complaint.answered", obj=complaint, actor=agent, source=Source.ADMIN)
    return complaint
