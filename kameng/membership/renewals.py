"""Due-time membership work: reminders before every charge, renewal charges through the agreement, expiry.

Each sweep claims rows with SELECT … FOR UPDATE SKIP LOCKED in batches, so any number of workers may run it at
once. A renewal is claimed (charge row + order + lease) in one transaction, charged at the channel outside any
transaction (idempotent there by order number), and its result applied in another: a crash between leaves a
pending attempt that the next sweep retries with the same order number, so a period is never charged twice.
"""

import enum
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta

from django.db.models import Min, QuerySet

from kameng.core import clock, locking, sweeps
from kameng.core.audit import Source, log_action
from kameng.core.errors import DomainError
from kameng.core.http import TransportError
from kameng.membership import lifecycle
from kameng.membership.error_codes import MembershipErrorCode
from kameng.membership.models import (
    MIN_FIRST_REMINDER_DAYS,
    Agreement,
    Charge,
    ChargeAttempt,
    Membership,
    Reminder,
)
from kameng.membership.notices import notify_member
from kameng.orders import services as orders
from kameng.orders.models import Order
from kameng.payments import services as payments
from kameng.payments.channels.base import Outcome
from kameng.payments.channels.errors import ChannelProtocolError
from kameng.payments.channels.registry import get_channel
from kameng.payments.selectors import notify_url

log = logging.getLogger(__name__)
Status = Membership.Status
CHARGE_TOPIC = "membership.charge"
BATCH = 100
CHARGE_LEASE = timedelta(minutes=10)  # a claimed renewal not finished by then is looked at again
UNFINISHED = (ChargeAttempt.Outcome.UNANSWERED, ChargeAttempt.Outcome.PENDING)


# --- reminders ------------------------------------------------------------------------------------------------------


def send_due_reminders(*, limit: int = 5000) -> int:
    """Sends each due renewal reminder once: on the plan's days before the charge (by default 7 and 3)."""
    # Reminders are database writes (the mail goes through the outbox), so each is sent in its claim transaction.
    return sum(sweeps.lease_due(due=_due_reminders, lease=_remind, limit=limit, batch=BATCH))


def _awaiting_reminder() -> QuerySet[Membership]:
    return Membership.objects.filter(status=Status.ACTIVE, auto_renew=True)


def next_reminder_due() -> datetime | None:
    return _awaiting_reminder().aggregate(at=Min("next_reminder_at"))["at"]


def _due_reminders() -> QuerySet[Membership]:
    return (
        _awaiting_reminder()
        .select_related("plan", "user")
        .filter(next_reminder_at__lte=clock.now())
        .order_by("next_reminder_at")
    )


def _remind(membership: Membership) -> int:
    """Sends the latest reminder now due for the coming charge (earlier missed ones are not sent late); it moves
    next_reminder_at past now either way."""
    now, charge_at = clock.now(), membership.current_period_end
    schedule = membership.plan.reminder_schedule()
    due = [d for d in schedule if charge_at - timedelta(days=d) <= now]
    later = [d for d in schedule if charge_at - timedelta(days=d) > now]
    sent = 0
    if due:
        sent = _send_reminder(membership, days_before=min(due), charge_at=charge_at)
    membership.next_reminder_at = charge_at - timedelta(days=max(later)) if later else None
    membership.save(update_fields=["next_reminder_at"])
    return sent


def _send_reminder(membership: Membership, *, days_before: int, charge_at) -> int:
    cycle = membership.period_index + 1
    _, created = Reminder.objects.get_or_create(
        membership=membership,
        period_index=cycle,
        days_before=days_before,
        defaults={"charge_at": charge_at, "amount_fen": membership.price_fen, "sent_at": clock.now()},
    )
    if not created:
        return 0
    notify_member(
        membership=membership,
        kind="membership.reminder",
        key=f"{cycle}:{days_before}",
        charge_at=charge_at,
        days_before=days_before,
    )
    log_action(
        action="membership.reminder_sent",
        obj=membership,
        source=Source.SYSTEM,
        data={"cycle": cycle, "days_before": days_before, "charge_at": clock.iso(charge_at)},
    )
    return 1


def _reminded_in_time(membership: Membership, cycle: int) -> bool:
    first = Reminder.objects.filter(membership=membership, period_index=cycle).order_by("sent_at").first()
    return first is not None and first.sent_at <= clock.now() - timedelta(days=MIN_FIRST_REMINDER_DAYS)


def _postpone(membership: Membership, cycle: int) -> None:
    """No reminder ≥ 5 days old for this charge: remind now if never reminded, and charge 5 days after."""
    first = Reminder.objects.filter(membership=membership, period_index=cycle).order_by("sent_at").first()
    if first is None:
        _send_reminder(
            membership, days_before=MIN_FIRST_REMINDER_DAYS, charge_at=clock.now() + timedelta(days=5)
        )
        first = Reminder.objects.get(membership=membership, period_index=cycle)
    membership.next_charge_at = first.sent_at + timedelta(days=MIN_FIRST_REMINDER_DAYS)
    membership.save(update_fields=["next_charge_at"])
    log_action(
        action="membership.charge_postponed",
        obj=membership,
        source=Source.SYSTEM,
        data={
            "cycle": cycle,
            "reminded_at": clock.iso(first.sent_at),
            "charge_at": clock.iso(membership.next_charge_at),
        },
    )


# --- renewals -------------------------------------------------------------------------------------------------------


def renew_due_memberships(*, limit: int = 5000) -> int:
    """Charges every due auto-renewing membership once for its next period; returns how many were attempted."""
    attempted = 0
    for order_no in _claim_due(limit):
        execute_charge(order_no=order_no)
        attempted += 1
    return attempted


def _claim_due(limit: int) -> Iterator[str]:
    """Due memberships nobody else holds, each with one charge attempt readied and leased in the claim."""
    return sweeps.lease_due(due=_due_renewals, lease=_ready_attempt, limit=limit, batch=BATCH)


def _awaiting_charge() -> QuerySet[Membership]:
    return Membership.objects.filter(status__in=[Status.ACTIVE, Status.PAST_DUE], auto_renew=True)


def next_charge_due() -> datetime | None:
    return _awaiting_charge().aggregate(at=Min("next_charge_at"))["at"]


def _due_renewals() -> QuerySet[Membership]:
    return (
        _awaiting_charge()
        .select_related("plan", "user", "agreement")
        .filter(next_charge_at__lte=clock.now())
        .order_by("next_charge_at")
    )


def _ready_attempt(membership: Membership) -> str | None:
    """In the claim transaction: readies one charge attempt and leases it; its order number, or None if there is
    nothing to charge now."""
    cycle = membership.period_index + 1
    agreement = getattr(membership, "agreement", None)
    if agreement is None or agreement.status != Agreement.Status.ACTIVE:
        # Nothing we may charge through: the membership simply runs to its end.
        lifecycle.stop_renewing(membership=membership, why="renewal_without_agreement")
        return None
    if membership.status == Status.ACTIVE and not _reminded_in_time(membership, cycle):
        _postpone(membership, cycle)
        return None
    amount = membership.price_fen  # the agreed price, never more
    if amount > agreement.single_amount_fen:
        lifecycle.stop_renewing(membership=membership, why="renewal_above_cap")
        return None
    charge, _ = Charge.objects.get_or_create(
        membership=membership,
        period_index=cycle,
        defaults={"amount_fen": amount, "is_renewal": True, "created_at": clock.now()},
    )
    if charge.status == Charge.Status.SUCCEEDED:
        return None  # already paid (its notification is being applied): never twice
    attempt = (
        ChargeAttempt.objects.select_related("order")
        .filter(charge=charge, outcome__in=UNFINISHED)
        .order_by("-id")
        .first()
    )
    if attempt is None:  # a fresh try gets a fresh order number; an unfinished one is retried under its own
        order = orders.create_service_order(
            user=membership.user,
            subject=f"VIP {membership.plan.name} 续费",
            amount_fen=charge.amount_fen,
            channel=membership.channel,
            source=Source.SYSTEM,
        )
        attempt = ChargeAttempt.objects.create(charge=charge, order=order, created_at=clock.now())
    charge.attempts += 1
    charge.save(update_fields=["attempts"])
    membership.next_charge_at = clock.now() + CHARGE_LEASE
    membership.save(update_fields=["next_charge_at"])
    return attempt.order.order_no


def execute_charge_message(payload: dict) -> None:
    """Outbox handler: the first period of an auto-renew membership, charged right after signing."""
    execute_charge(order_no=payload["order_no"])


class Charged(enum.StrEnum):
    """What became of one charge attempt run by `execute_charge`."""

    SUCCEEDED = "succeeded"
    PENDING = "pending"  # unanswered, or the channel will notify: the next sweep or the notification decides
    FAILED = "failed"
    SKIPPED = "skipped"  # no longer wanted (cancelled, terminated, already paid): the channel was not asked


def execute_charge(*, order_no: str) -> Charged:
    """Asks the channel for the money of one attempt."""
    attempt = (
        ChargeAttempt.objects.select_related(
            "order", "charge__membership__agreement", "charge__membership__plan"
        )
        .filter(order__order_no=order_no)
        .first()
    )
    if attempt is None:
        raise DomainError(MembershipErrorCode.UNKNOWN_CHARGE, order_no=order_no)
    membership, order = attempt.charge.membership, attempt.order
    agreement = getattr(membership, "agreement", None)
    still_wanted = (
        attempt.outcome in UNFINISHED
        and attempt.charge.status == Charge.Status.PENDING
        and agreement is not None
        and agreement.status == Agreement.Status.ACTIVE
        and (membership.auto_renew or attempt.charge.period_index == 0)
        and membership.status in Membership.LIVE
    )
    if not still_wanted:
        return Charged.SKIPPED  # cancelled, terminated or already paid since it was claimed: no channel call
    try:
        result = get_channel(order.channel).charge_agreement(
            channel_agreement_no=agreement.channel_agreement_no,
            out_trade_no=order.order_no,
            amount_fen=order.amount_fen,
            subject=order.subject,
            notify_url=notify_url(order.channel),
        )
    except (TransportError, ChannelProtocolError) as exc:
        log.warning("charge %s not answered: %s", order_no, exc)
        return Charged.PENDING  # the lease runs out and the next sweep asks again under the same order number
    if result.status == Outcome.SUCCEEDED:
        locking.retried_atomic(payments.record_payment)(
            channel=order.channel,
            out_trade_no=order.order_no,
            channel_trade_no=result.channel_trade_no,
            amount_fen=order.amount_fen,
        )
        return Charged.SUCCEEDED
    if result.status == Outcome.FAILED:
        _charge_failed(attempt_id=attempt.pk, message=result.message)
        return Charged.FAILED
    return Charged.PENDING


def charge_refused_at_channel(*, order_no: str, reason: str, source: str) -> bool:
    """A definite refusal the channel told later: its failed-payment notification, or its answer to our query
    (kameng.payments.queries). Applied as a refused charge's answer is; False for an order that charges nothing."""
    attempt_id = ChargeAttempt.objects.filter(order__order_no=order_no).values_list("pk", flat=True).first()
    if attempt_id is None:
        return False
    _charge_failed(attempt_id=attempt_id, message=reason, source=source)
    return True


@locking.retried_atomic
def _charge_failed(*, attempt_id: int, message: str, source: str = Source.CHANNEL) -> None:
    """A refused charge never extends the membership: past_due (benefits paused), retries, then the end."""
    attempt = ChargeAttempt.objects.select_related("order", "charge").get(pk=attempt_id)
    membership, charge = locking.lock_each(
        Membership.objects.select_related("plan", "user").filter(pk=attempt.charge.membership_id),
        Charge.objects.filter(pk=attempt.charge_id),
    )
    if charge.status != Charge.Status.PENDING or attempt.outcome == ChargeAttempt.Outcome.FAILED:
        return
    attempt.outcome, attempt.finished_at = ChargeAttempt.Outcome.FAILED, clock.now()
    attempt.save(update_fields=["outcome", "finished_at"])
    order = orders.lock_order(attempt.order.order_no)
    if order.status == Order.Status.PENDING_PAYMENT:
        order.status = Order.Status.EXPIRED
        order.save(update_fields=["status"])
    charge.last_error = message[:255]
    log_action(
        action="membership.charge_failed",
        obj=membership,
        source=source,
        data={"order_no": order.order_no, "cycle": charge.period_index, "reason": message[:200]},
    )
    if charge.period_index == 0:  # the first charge after signing: the membership never started
        charge.status = Charge.Status.FAILED
        lifecycle.abandon(membership=membership)
    elif membership.status in (Status.ACTIVE, Status.PAST_DUE) and lifecycle.charge_refused(
        membership=membership, charge=charge
    ):
        charge.status = Charge.Status.FAILED  # no retry left
    charge.save(update_fields=["status", "last_error"])


# --- expiry ---------------------------------------------------------------------------------------------------------


def expire_due_memberships(*, limit: int = 5000) -> int:
    """Memberships without auto-renew end at their period end; lifetime plans never do. Stale first orders are
    abandoned so the member can choose again."""
    ended = list(sweeps.lease_due(due=_due_ends, lease=_end_at_period_end, limit=limit, batch=BATCH))
    abandoned = list(sweeps.lease_due(due=_stale_first_orders, lease=_abandon, limit=BATCH, batch=BATCH))
    return len(ended) + len(abandoned)


def _running_out() -> QuerySet[Membership]:
    return Membership.objects.filter(status=Status.ACTIVE, auto_renew=False)


def _unpaid_first() -> QuerySet[Membership]:
    return Membership.objects.filter(status=Status.PENDING)


def next_expiry_due() -> datetime | None:
    period_end = _running_out().aggregate(at=Min("current_period_end"))["at"]
    created = _unpaid_first().aggregate(at=Min("created_at"))["at"]
    moments = [m for m in (period_end, created and created + lifecycle.ABANDON_AFTER) if m is not None]
    return min(moments, default=None)


def _due_ends() -> QuerySet[Membership]:
    return (
        _running_out()
        .select_related("plan", "user")
        .filter(current_period_end__lte=clock.now())
        .order_by("current_period_end")
    )


def _end_at_period_end(membership: Membership) -> Membership:
    lifecycle.expire(membership=membership, reason=lifecycle.ExpiryReason.PERIOD_END)
    return membership


def _stale_first_orders() -> QuerySet[Membership]:
    return _unpaid_first().filter(created_at__lte=clock.now() - lifecycle.ABANDON_AFTER)


def _abandon(membership: Membership) -> Membership:
    lifecycle.abandon(membership=membership)
    return membership
