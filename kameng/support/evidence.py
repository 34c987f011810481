"""The evidence bundle (证据包): a member's whole membership history, time-stamped, as JSON and PDF.

The JSON is canonical (sorted keys, no spaces, UTF-8); its SHA-256 digest and an HMAC-SHA256 by the site's
evidence key travel with it, so the operator can show a bundle is genuine and unedited (`verify_evidence`).
"""

import hashlib
import hmac
import io
import json

from django.conf import settings
from django.db.models import Prefetch
from django.utils.crypto import salted_hmac

from kameng.core import clock
from kameng.membership.models import Cancellation, Charge, ChargeAttempt, ConsentRecord, Membership, Reminder
from kameng.notifications.models import Notification
from kameng.payments.models import Payment, Refund
from kameng.support.models import Complaint, Ticket, TicketMessage

SALT = "kameng.support.evidence"


def _iso(moment) -> str | None:
    return clock.iso(moment)


def canonical(data: dict) -> bytes:
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _hmac(payload: bytes) -> str:
    return salted_hmac(SALT, payload, secret=settings.SECRET_KEY, algorithm="sha256").hexdigest()


def history(*, user) -> dict:
    """Everything the member may need to show: purchase, consent, disclosure, reminders, cancellations, receipts,
    ticket messages, refunds; each with its time. One query per kind of row, however long the history."""
    return {
        "member": user.username,
        "generated_at": _iso(clock.now()),
        "site": settings.KAMENG_PUBLIC_URL,
        "memberships": [_membership(m) for m in _memberships(user)],
        "payments": [_payment(p) for p in _payments(user)],
        "refunds": [_refund(r) for r in _refunds(user)],
        "tickets": [
            _ticket(t)
            for t in Ticket.objects.filter(user=user).prefetch_related("messages").order_by("created_at")
        ],
        "complaints": [_complaint(c) for c in Complaint.objects.filter(user=user).order_by("created_at")],
        "notices_sent": [
            {"kind": n.kind, "subject": n.subject, "at": _iso(n.created_at), "email": n.email_status}
            for n in Notification.objects.filter(user=user, kind__startswith="membership.").order_by(
                "created_at"
            )
        ],
    }


def _memberships(user):
    tries = Prefetch("tries", queryset=ChargeAttempt.objects.select_related("order").order_by("id"))
    return (
        Membership.objects.filter(user=user)
        .select_related("plan", "consent")
        .prefetch_related(
            Prefetch("charges", queryset=Charge.objects.prefetch_related(tries).order_by("period_index")),
            Prefetch("reminders", queryset=Reminder.objects.order_by("sent_at")),
            Prefetch(
                "cancellations",
                queryset=Cancellation.objects.select_related("refund").order_by("received_at"),
            ),
        )
        .order_by("created_at")
    )


def _membership(m: Membership) -> dict:
    consent = getattr(m, "consent", None)
    return {
        "plan": {"code": m.plan.code, "name": m.plan.name, "period": m.plan.period},
        "status": m.status,
        "price_fen": m.price_fen,
        "auto_renew": m.auto_renew,
        "channel": m.channel,
        "created_at": _iso(m.created_at),
        "current_period_start": _iso(m.current_period_start),
        "current_period_end": _iso(m.current_period_end),
        "ended_at": _iso(m.ended_at),
        "consent": _consent(consent) if consent else None,
        "charges": [
            {
                "period": c.period_index,
                "amount_fen": c.amount_fen,
                "status": c.status,
                "succeeded_at": _iso(c.succeeded_at),
                "orders": [t.order.order_no for t in c.tries.all()],
            }
            for c in m.charges.all()
        ],
        "reminders": [
            {
                "for_period": r.period_index,
                "days_before": r.days_before,
                "charge_at": _iso(r.charge_at),
                "amount_fen": r.amount_fen,
                "sent_at": _iso(r.sent_at),
            }
            for r in m.reminders.all()
        ],
        "cancellations": [_cancellation(c) for c in m.cancellations.all()],
    }


def _consent(consent: ConsentRecord) -> dict:
    return {
        "given_at": _iso(consent.given_at),
        "ip": consent.ip,
        "user_agent": consent.user_agent,
        "terms_version": consent.terms_version,
        "price_fen": consent.price_fen,
        "channel": consent.channel,
        "external_agreement_no": consent.external_agreement_no,
        "disclosure_shown": consent.disclosure,
    }


def _cancellation(c: Cancellation) -> dict:
    return {
        "receipt_no": c.receipt_no,
        "mode": c.mode,
        "via": c.source,
        "received_at": _iso(c.received_at),
        "effective_at": _iso(c.effective_at),
        "refund_fen": c.refund_fen,
        "refund_status": c.refund.status if c.refund_id else "none",
        "quote": c.quote,
    }


def _payments(user):
    return Payment.objects.filter(order__user=user).select_related("order").order_by("paid_at")


def _payment(p: Payment) -> dict:
    return {
        "order_no": p.order.order_no,
        "what": p.order.subject,
        "channel": p.channel,
        "amount_fen": p.amount_fen,
        "paid_at": _iso(p.paid_at),
    }


def _refunds(user):
    return (
        Refund.objects.filter(payment__order__user=user)
        .select_related("payment__order")
        .order_by("created_at")
    )


def _refund(r: Refund) -> dict:
    return {
        "refund_no": r.refund_no,
        "order_no": r.payment.order.order_no,
        "amount_fen": r.amount_fen,
        "reason": r.reason,
        "status": r.status,
        "requested_at": _iso(r.created_at),
        "succeeded_at": _iso(r.succeeded_at),
    }


def _ticket(t: Ticket) -> dict:
    return {
        "ticket_no": t.ticket_no,
        "category": t.category,
        "status": t.status,
        "order_no": t.order_no,
        "proof_verified": t.proof_verified,
        "filed_at": _iso(t.created_at),
        "due_at": _iso(t.due_at),
        "resolution": t.resolution,
        "messages": [
            {
                "at": _iso(msg.created_at),
                "from_staff": msg.from_staff,
                "text": msg.body,
                "attachment": _attachment(msg) if msg.attachment else None,
            }
            for msg in t.messages.all()
        ],
    }


def _attachment(msg: TicketMessage) -> dict:
    """A screenshot as evidence: the hash of what the member uploaded, and of the file kept (the same pixels
    re-encoded without metadata, support.storage); a hash the shop never recorded reads as null."""
    return {
        "type": msg.attachment_type,
        "original_sha256": msg.original_sha256 or None,
        "original_bytes": msg.original_bytes or None,
        "stored_sha256": msg.attachment_sha256 or None,
        "stored_bytes": msg.attachment_bytes or None,
    }


def _complaint(c: Complaint) -> dict:
    return {
        "complaint_no": c.complaint_no,
        "about": c.about,
        "about_ref": c.about_ref,
        "text": c.text,
        "filed_at": _iso(c.created_at),
        "answer": c.answer,
        "answered_at": _iso(c.answered_at),
    }


def build_bundle(*, user) -> dict:
    """{"bundle": history, "sha256": digest of the canonical bundle, "hmac": the site's seal over it}."""
    data = history(user=user)
    payload = canonical(data)
    return {"bundle": data, "sha256": hashlib.sha256(payload).hexdigest(), "hmac": _hmac(payload)}


def verify_bundle(document: dict) -> bool:
    """True only if the bundle is exactly as the site issued it."""
    try:
        payload = canonical(document["bundle"])
        digest_ok = hmac.compare_digest(hashlib.sha256(payload).hexdigest(), str(document["sha256"]))
        seal_ok = hmac.compare_digest(_hmac(payload), str(document["hmac"]))
    except (KeyError, TypeError, ValueError):
        return False
    return digest_ok and seal_ok


def render_pdf(document: dict) -> bytes:
    """The same bundle as a readable PDF (Chinese via reportlab's built-in STSong CID font), digest on the end."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=A4)
    _, height = A4
    y = height - 20 * mm

    def line(text: str, size: int = 9) -> None:
        nonlocal y
        for start in range(0, max(1, len(text)), 80):
            if y < 20 * mm:
                page.showPage()
                y = height - 20 * mm
            page.setFont("STSong-Light", size)
            page.drawString(15 * mm, y, text[start : start + 80])
            y -= size + 4

    bundle = document["bundle"]
    line(f"卡盟 Kameng 会员证据包 / evidence bundle · {bundle['member']}", 13)
    line(f"生成时间 generated at {bundle['generated_at']} · {bundle['site']}")
    for section in ("memberships", "payments", "refunds", "tickets", "complaints", "notices_sent"):
        line("")
        line(f"== {section} ==", 11)
        for item in bundle[section]:
            line(json.dumps(item, ensure_ascii=False, sort_keys=True))
    line("")
    line(f"SHA-256: {document['sha256']}")
    line(f"HMAC-SHA256: {document['hmac']}")
    page.save()
    return out.getvalue()
