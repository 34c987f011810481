"""Notifications: an inbox row now, e-mail and SMS after commit through the outbox (retried until sent)."""

from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import translation

from kameng.core import clock, outbox
from kameng.core.errors import DomainError
from kameng.notifications import sms
from kameng.notifications.error_codes import NotificationErrorCode
from kameng.notifications.models import Notification

EMAIL_TOPIC = "notifications.email"
SMS_TOPIC = "notifications.sms"
Delivery = Notification.Delivery


def _render(kind: str, context: dict[str, Any], language: str) -> tuple[str, str]:
    with translation.override(language):
        subject = render_to_string(f"notifications/{kind}/subject.txt", context).strip()
        body = render_to_string(f"notifications/{kind}/body.txt", context).strip()
    return " ".join(subject.split())[:200], body


def notify(
    *,
    user,
    kind: str,
    context: dict[str, Any],
    link: str = "",
    dedupe_key: str | None = None,
    channels: tuple[str, ...] = ("inbox", "email"),
) -> Notification:
    """Creates the inbox message and queues its e-mail / SMS in the caller's transaction; once per dedupe_key."""
    if dedupe_key:
        existing = Notification.objects.filter(dedupe_key=dedupe_key).first()
        if existing is not None:
            return existing
    language = getattr(user, "language", "") or settings.LANGUAGE_CODE
    subject, body = _render(kind, context, language)
    phone = getattr(user, "phone", "")
    try:
        with transaction.atomic():
            note = Notification.objects.create(
                user=user,
                kind=kind,
                subject=subject,
                body=body,
                link=link,
                created_at=clock.now(),
                dedupe_key=dedupe_key or None,
                email_status=Delivery.PENDING if ("email" in channels and user.email) else Delivery.NONE,
                sms_status=Delivery.PENDING if ("sms" in channels and phone) else Delivery.NONE,
            )
    except IntegrityError:  # the same message raced in from another worker
        return Notification.objects.get(dedupe_key=dedupe_key)
    if note.email_status == Delivery.PENDING:
        outbox.enqueue(topic=EMAIL_TOPIC, payload={"notification": note.pk})
    if note.sms_status == Delivery.PENDING:
        outbox.enqueue(topic=SMS_TOPIC, payload={"notification": note.pk})
    return note


def deliver_email(payload: dict) -> None:
    """Outbox handler. Raises on SMTP failure so the outbox retries; a sent message is not sent again."""
    note = Notification.objects.select_related("user").filter(pk=payload["notification"]).first()
    if note is None or note.email_status != Delivery.PENDING:
        return
    EmailMessage(subject=note.subject, body=note.body, to=[note.user.email]).send(fail_silently=False)
    Notification.objects.filter(pk=note.pk).update(email_status=Delivery.SENT, email_sent_at=clock.now())


def deliver_sms(payload: dict) -> None:
    note = Notification.objects.select_related("user").filter(pk=payload["notification"]).first()
    if note is None or note.sms_status != Delivery.PENDING:
        return
    sms.backend().send(note.user.phone, f"{note.subject}\n{note.body}"[:500])
    Notification.objects.filter(pk=note.pk).update(sms_status=Delivery.SENT, sms_sent_at=clock.now())


def mark_read(*, user, notification_id: int) -> Notification:
    note = Notification.objects.filter(pk=notification_id, user=user).first()
    if note is None:
        raise DomainError(NotificationErrorCode.UNKNOWN_NOTIFICATION)
    if note.read_at is None:
        note.read_at = clock.now()
        note.save(update_fields=["read_at"])
    return note


def mark_all_read(*, user) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).update(read_at=clock.now())
