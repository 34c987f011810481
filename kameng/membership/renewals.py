"""Due-time membership work: renewal charges through the agreement, on the schedule of `schedule.py`, and expiry.
Reminders are in reminders.py.

Each sweep claims rows with SELECT … FOR UPDATE SKIP LOCKED in batches, so any number of workers may run it at
once. A cycle's renewal takes two steps of the renewal sweep, each claimed (the work readied and leased) in one
transaction, sent to the channel outside any transaction and applied in another:

1. the notice (C-4, 07:00–22:00): `announce_charge` (WeChat's 预扣费通知; Alipay answers at once), recorded as
   the charge's announced_at, once per cycle;
2. the attempts: on the chargeable days of the window C-2..C, once a day at the member's charge time, never
   outside 07:00–22:00, never after C, never without the notice in place nor without the first reminder 5 days
   before the first attempt. A refused attempt is retried the next day of the window; after the last, auto-renew
   ends and the membership runs to its period end.

A crash between claim and answer leaves an unanswered attempt that the next sweep asks again under the same order
number (inside the window's hours only), so a period is never charged twice. An attempt the channel accepted
(pending) is never sent again: its notification or the query sweep decides it. A cycle given up with a trade still
open at the channel has it closed there (trade_closing.py).
"""

import enum
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Min, QuerySet

from kameng.core import clock, locking, outbox, sweeps
from kameng.core.audit import Source, log_action
from kameng.core.errors import DomainError
from kameng.core.http import TransportError
from kameng.membership import announcements, lifecycle, reminders, schedule
from kameng.membership.error_codes import MembershipErrorCode
from kameng.membership.models import Agreement, Charge, ChargeAttempt, Membership
from kameng.membership.trade_closing import CLOSE_TOPIC
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
# An attempt still unanswered when its window closed is not asked again (that would be a charge outside the
# window): its outcome is awaited this long (a notification, or the query sweep), then the cycle is given up.
UNFINISHED_WAIT = timedelta(hours=24)


# --- renewals -------------------------------------------------------------------------------------------------------


class Step(enum.StrEnum):
    ANNOUNCE = "announce"
    CHARGE = "charge"


@dataclass(frozen=True)
class Work:
    """One claimed step of a cycle's renewal: its notice (by charge id) or an attempt (by order number)."""

    step: Step
    charge_id: int = 0
    order_no: str = ""


def renew_due_memberships(*, limit: int = 5000) -> int:
    """Runs every due renewal step once (a notice or a charge attempt); returns how many were sent."""
    sent = 0
    for work in _claim_due(limit):
        if work.step == Step.ANNOUNCE:
            announcements.announce_charge(charge_id=work.charge_id)
        else:
            execute_charge(order_no=work.order_no)
        sent += 1
    return sent


def _claim_due(limit: int) -> Iterator[Work]:
    """Due memberships nobody else holds, each with its next step readied and leased in the claim."""
    return sweeps.lease_due(due=_due_renewals, lease=_ready_step, limit=limit, batch=BATCH)


def _awaiting_charge() -> QuerySet[Membership]:
    return Membership.objects.filter(status=Status.ACTIVE, auto_renew=True)


def next_charge_due() -> datetime | None:
    return _awaiting_charge().aggregate(at=Min("next_charge_at"))["at"]


def _due_renewals() -> QuerySet[Membership]:
    return (
        _awaiting_charge()
        .select_related("plan", "user", "agreement")
        .filter(next_charge_at__lte=clock.now())
        .order_by("next_charge_at")
    )


def _ready_step(membership: Membership) -> Work | None:
    """In the claim transaction: readies the cycle's next step and leases it; None if there is nothing to send now
    (then the membership's next_charge_at has moved to when there will be, or auto-renew has ended)."""
    cycle = membership.period_index + 1
    agreement = getattr(membership, "agreement", None)
    if agreement is None or agreement.status != Agreement.Status.ACTIVE:
        # Nothing we may charge through: the membership simply runs to its end.
        lifecycle.stop_renewing(membership=membership, why="renewal_without_agreement")
        return None
    amount = membership.price_fen  # the agreed price, never more
    if amount > agreement.single_amount_fen:
        lifecycle.stop_renewing(membership=membership, why="renewal_above_cap")
        return None
    coming = schedule.coming_cycle(membership)
    if coming is None:
        lifecycle.stop_renewing(membership=membership, why="renewal_without_schedule")
        return None
    if not reminders.reminded_in_time(membership, cycle, coming):
        reminders.pause_for_late_reminder(membership, coming)
        return None
    charge, _ = Charge.objects.get_or_create(
        membership=membership,
        period_index=cycle,
        defaults={"amount_fen": amount, "is_renewal": True, "created_at": clock.now()},
    )
    if charge.status != Charge.Status.PENDING:
        return None  # paid (its notification is being applied) or given up: never twice
    if charge.announced_at is None:
        return _ready_notice(membership, charge, coming)
    return _ready_attempt(membership, charge, coming)


def _lease(membership: Membership) -> None:
    membership.next_charge_at = clock.now() + CHARGE_LEASE
    membership.save(update_fields=["next_charge_at"])


def _wait_until(membership: Membership, moment: datetime) -> None:
    membership.next_charge_at = moment
    membership.save(update_fields=["next_charge_at"])


def _ready_notice(membership: Membership, charge: Charge, coming: schedule.Cycle) -> Work | None:
    now = clock.now()
    moment = coming.next_notice_moment(now)
    if moment is None:  # the sweep was down past the last day a notice leaves a chargeable day
        _give_up(membership, charge, why="renewal_window_missed", coming=coming)
        return None
    if moment > now:
        _wait_until(membership, moment)
        return None
    _lease(membership)
    return Work(step=Step.ANNOUNCE, charge_id=charge.pk)


def _tried_on(charge: Charge) -> set[date]:
    """The days of the window on which an attempt was refused (one attempt a day)."""
    refused = charge.tries.filter(outcome=ChargeAttempt.Outcome.FAILED).values_list("created_at", flat=True)
    return {clock.local(moment).date() for moment in refused}


def _ready_attempt(membership: Membership, charge: Charge, coming: schedule.Cycle) -> Work | None:
    now, announced_on = clock.now(), clock.local(charge.announced_at).date()
    attempt = (
        ChargeAttempt.objects.select_related("order")
        .filter(charge=charge, outcome__in=UNFINISHED)
        .order_by("-id")
        .first()
    )
    if attempt is not None and attempt.outcome == ChargeAttempt.Outcome.PENDING:
        # Accepted by the channel (WeChat 受理, Alipay 10003): never sent again ("请勿重复发起"); its notification or
        # the query sweep decides it. Still undecided a day after the window, the cycle is given up (and its trade
        # closed at the channel).
        if now < coming.window_closes + UNFINISHED_WAIT:
            _wait_until(membership, coming.window_closes + UNFINISHED_WAIT)
        else:
            _give_up(membership, charge, why="renewal_failed", coming=coming)
        return None
    if attempt is not None:  # asked before, answer lost: asked again under its own number, in hours
        moment = coming.next_hours_moment(now, announced_on=announced_on)
        if moment is None:
            if now < coming.window_closes + UNFINISHED_WAIT:
                _wait_until(membership, coming.window_closes + UNFINISHED_WAIT)
            else:
                _give_up(membership, charge, why="renewal_failed", coming=coming)
            return None
        if moment > now:
            _wait_until(membership, moment)
            return None
    else:
        moment = coming.next_charge_moment(
            now,
            announced_on=announced_on,
            tried_on=_tried_on(charge),
            not_before=reminders.earliest_attempt(membership, charge.period_index),
        )
        if moment is None:
            why = "renewal_failed" if charge.attempts else "renewal_window_missed"
            _give_up(membership, charge, why=why, coming=coming)
            return None
        if moment > now:
            _wait_until(membership, moment)
            return None
        # A fresh try gets a fresh order number (WeChat: a refused order is closed, retry under a new one).
        order = orders.create_service_order(
            user=membership.user,
            subject=f"VIP {membership.plan.name} 续费",
            amount_fen=charge.amount_fen,
            channel=membership.channel,
            source=Source.SYSTEM,
        )
        attempt = ChargeAttempt.objects.create(charge=charge, order=order, created_at=now)
    charge.attempts += 1
    charge.save(update_fields=["attempts"])
    _lease(membership)
    return Work(step=Step.CHARGE, order_no=attempt.order.order_no)


def _give_up(membership: Membership, charge: Charge, *, why: str, coming: schedule.Cycle) -> None:
    """Nothing left in the window: the cycle is not charged; auto-renew ends, the member is told. A trade still
    open at the channel (accepted or unanswered) is closed there, after this transaction (`close_given_up_trade`),
    so that it can never be paid after its window."""
    charge.status = Charge.Status.FAILED
    charge.save(update_fields=["status"])
    for order_no in charge.tries.filter(outcome__in=UNFINISHED).values_list("order__order_no", flat=True):
        outbox.enqueue(topic=CLOSE_TOPIC, payload={"order_no": order_no})
    lifecycle.end_auto_renew(
        membership=membership,
        agreement=getattr(membership, "agreement", None),
        why=why,
        data={
            "cycle": charge.period_index,
            "planned": coming.planned.isoformat(),
            "attempts": charge.attempts,
        },
    )


def queue_first_charge(*, order_no: str) -> None:
    """The first period of an auto-renew membership is charged through the agreement just signed (WeChat), at once
    inside 07:00–22:00, else at the next 07:00: WeChat takes 申请扣款 only then ("强制；签约时间不影响"), and 07:00
    is at most 9 hours after a sign notification, inside its 12-hour first-signing grace (no notice needed)."""
    now = clock.now()
    wait = schedule.next_charge_hours(now) - now
    outbox.enqueue(
        topic=CHARGE_TOPIC, payload={"order_no": order_no}, delay_seconds=math.ceil(wait.total_seconds())
    )


def execute_charge_message(payload: dict) -> None:
    """Outbox handler: the first period of an auto-renew membership, charged after signing. Delivered outside the
    hours (late), it waits for the next opening."""
    if not schedule.in_charge_hours(clock.now()):
        queue_first_charge(order_no=payload["order_no"])
        return
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
        attempt.outcome == ChargeAttempt.Outcome.UNANSWERED  # an accepted one is never sent again
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
    # Accepted: recorded, so that it is not sent again (unless its notification or a refusal came first).
    ChargeAttempt.objects.filter(pk=attempt.pk, outcome=ChargeAttempt.Outcome.UNANSWERED).update(
        outcome=ChargeAttempt.Outcome.PENDING
    )
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
    """A refused charge never takes a day paid for: while the window has an attempt left the membership stays
    active and the next day's attempt is scheduled; after the last, auto-renew ends (lifecycle.charge_refused)."""
    attempt = ChargeAttempt.objects.select_related("order", "charge").get(pk=attempt_id)
    # Membership, agreement (auto-renew may end: it is unsigned), charge, then order: the lock order.
    membership, agreement, charge = locking.lock_each(
        Membership.objects.select_related("plan", "user").filter(pk=attempt.charge.membership_id),
        Agreement.objects.filter(membership_id=attempt.charge.membership_id),
        Charge.objects.filter(pk=attempt.charge_id),
    )
    # Read again under the charge's lock: the same refusal told twice at once (the failed-payment notification and
    # the query sweep's CLOSED) is applied once; the copy read before the locks may predate the other's.
    attempt.refresh_from_db(fields=["outcome", "finished_at"])
    if charge.status != Charge.Status.PENDING or attempt.outcome == ChargeAttempt.Outcome.FAILED:
        return
    now = clock.now()
    attempt.outcome, attempt.finished_at = ChargeAttempt.Outcome.FAILED, now
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
        lifecycle.abandon(membership=membership, agreement=agreement)
    elif membership.status == Status.ACTIVE and membership.period_index + 1 == charge.period_index:
        retry_at = _retry_at(membership, charge, now)
        if retry_at is None or not membership.auto_renew:
            charge.status = Charge.Status.FAILED  # no attempt left (or auto-renew was turned off meanwhile)
        if membership.auto_renew:
            lifecycle.charge_refused(
                membership=membership, agreement=agreement, charge=charge, retry_at=retry_at
            )
    else:
        charge.status = Charge.Status.FAILED
    charge.save(update_fields=["status", "last_error"])


def _retry_at(membership: Membership, charge: Charge, now: datetime) -> datetime | None:
    """The next day's attempt of the window (at the charge time), or None after the last."""
    coming = schedule.coming_cycle(membership)
    if coming is None or charge.announced_at is None:
        return None
    tried = _tried_on(charge) | {clock.local(now).date()}
    return coming.next_charge_moment(
        now,
        announced_on=clock.local(charge.announced_at).date(),
        tried_on=tried,
        not_before=reminders.earliest_attempt(membership, charge.period_index),
    )
