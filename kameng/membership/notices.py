"""What the member is told, and when: the membership's messages through the notifications app (inbox + e-mail)."""

from datetime import datetime

from django.conf import settings
from django.urls import reverse

from kameng.core import clock
from kameng.membership import schedule
from kameng.membership.models import Membership
from kameng.membership.selectors import CHANNEL_LABELS, period_label
from kameng.notifications.services import notify


def _absolute(path: str) -> str:
    return settings.KAMENG_PUBLIC_URL.rstrip("/") + path


def notify_member(
    *,
    membership: Membership,
    kind: str,
    key: str,
    order_no: str = "",
    amount_fen: int | None = None,
    charge_at: datetime | None = None,
    days_before: int | None = None,
    retry_at: datetime | None = None,
    window_opens: datetime | None = None,
    reason: str = "",
    receipt=None,
) -> None:
    """Queues one message (once per key) inside the caller's transaction; mail goes out through the outbox.

    Every date of a coming charge is the cycle's planned date C (`schedule`), with its window C-2..C, 07:00–22:00.
    """
    member_url = _absolute(reverse("membership:centre"))
    coming = schedule.coming_cycle(membership) if membership.auto_renew else None
    context = {
        "plan_name": membership.plan.name,
        "period_label": period_label(membership.plan),
        "amount_fen": membership.price_fen if amount_fen is None else amount_fen,
        "period_start": membership.current_period_start,
        "period_end": membership.current_period_end,
        "auto_renew": membership.auto_renew,
        "channel_label": CHANNEL_LABELS.get(membership.channel, membership.channel),
        "next_charge_at": coming.last_attempt_at if coming else None,  # its date is C
        "next_window_opens": coming.window_opens if coming else None,
        "next_charge_fen": membership.price_fen,
        "charged_at": clock.now(),
        "charge_at": charge_at,
        "days_before": days_before,
        "retry_at": retry_at,
        "window_opens": window_opens,
        "reason": reason,
        "plans_url": _absolute(reverse("membership:plans")),
        "ended_at": membership.ended_at,
        "order_no": order_no,
        "cancel_url": _absolute(reverse("membership:cancel")),
        "member_url": member_url,
        "receipt": receipt,
        "receipt_url": _absolute(reverse("membership:receipt", args=[receipt.receipt_no])) if receipt else "",
    }
    notify(
        user=membership.user,
        kind=kind,
        context=context,
        link=reverse("membership:receipt", args=[receipt.receipt_no])
        if receipt
        else reverse("membership:centre"),
        dedupe_key=f"{kind}:{membership.pk}:{key}",
    )
