"""The membership state machine. Every change of a membership's status is one function here, run under the
membership's row lock (`locking.hold`) inside the caller's transaction; a transition asked of a membership in a
state it does not start from is refused with `IllegalTransition` and changes nothing.

    (subscribe) ─▶ pending ──start_period: first payment──────────────────────────▶ active
                   pending ──abandon: no payment in 24 h, first charge refused,
                             or the member chose again──────────────────────────▶ abandoned
                 abandoned ──start_period: late first payment, no other live one─▶ active
                    active ──start_period: renewal paid in its window C-2..C─────▶ active (next period, from the
                                                                                   old period's end)
                    active ──charge_refused: an attempt left in the window───────▶ active (benefits kept)
                    active ──end_auto_renew: last attempt refused, first reminder
                             too late, window missed─────────────────────────────▶ active, auto-renew off
                    active ──expire: period end without auto-renew──────────────▶ expired
                    active ──cancel, immediate──────────────────────────────────▶ cancelled (refund by policy)
                    active ──cancel, end of period; stop_renewing───────────────▶ active, auto-renew off
                  past_due ──expire: at the next expiry sweep───────────────────▶ expired
                  past_due ──cancel, either mode────────────────────────────────▶ cancelled
                  past_due ──stop_renewing──────────────────────────────────────▶ past_due, auto-renew off

past_due is no longer entered: a refused renewal is retried inside its window (docs/rules.md#renewal-schedule) while
the member keeps every day paid for, so benefits are never paused. It stays for memberships left past_due by the old
retry rule (retries 1 and 3 days after the period end, outside Alipay's window): their period is over and no
renewal is tried any more, so the expiry sweep ends them (reason renewal_failed) and tells the member.

expired, cancelled and abandoned are final (an abandoned membership's late first payment aside). Every cancel,
whoever asks (the member, support, the channel, the reconcile), writes one receipt (`Cancellation`) and audits it.
"""

import enum
from datetime import datetime, timedelta

from django.db.models import QuerySet

from kameng.core import clock, ids, locking, outbox
from kameng.core.audit import Source, log_action
from kameng.membership import schedule
from kameng.membership.models import PERIOD_MONTHS, Agreement, Cancellation, Charge, Membership
from kameng.membership.notices import notify_member
from kameng.membership.periods import period_bounds

Status = Membership.Status
UNSIGN_TOPIC = "membership.unsign"
ABANDON_AFTER = timedelta(
    hours=24
)  # a first payment that never came: abandoned, the member free to choose again
_CANCEL_AUDIT_SOURCE = {
    Cancellation.Source.SELF_SERVICE: Source.WEB,
    Cancellation.Source.SUPPORT: Source.ADMIN,
    Cancellation.Source.SUPPORT_OVERDUE: Source.SYSTEM,
    Cancellation.Source.CHANNEL: Source.CHANNEL,
    Cancellation.Source.RECONCILE: Source.SYSTEM,
}


def audit_source(source: str) -> str:
    """The audit log's source for a cancellation received through `source` (a `Cancellation.Source`)."""
    return _CANCEL_AUDIT_SOURCE.get(source, Source.SYSTEM)


class ExpiryReason(enum.StrEnum):
    PERIOD_END = "period_end"
    RENEWAL_FAILED = "renewal_failed"


class IllegalTransition(RuntimeError):
    """A transition asked of a membership in a state it does not start from. The services check the state and
    answer the member with their own refusal first, so reaching this is a bug in the caller, not a user's error."""


def _under_lock(membership: Membership, transition: str, *allowed: str) -> Membership:
    locking.hold(membership)
    if membership.status not in allowed:
        raise IllegalTransition(f"a {membership.status} membership cannot {transition}")
    return membership


def lock_agreement(agreements: QuerySet[Agreement]) -> Agreement | None:
    """Locks the agreement the queryset finds and, first, its membership (the lock order: a member's cancel
    takes the membership, then the agreement; so must the channel's side). The agreement carries the locked
    membership."""
    found = agreements.values_list("pk", "membership_id").first()
    if found is None:
        return None
    membership, agreement = locking.lock_each(
        Membership.objects.select_related("plan", "user").filter(pk=found[1]),
        Agreement.objects.filter(pk=found[0]),
    )
    agreement.membership = membership
    return agreement


def abandon(*, membership: Membership, agreement: Agreement | None = None) -> None:
    """pending → abandoned: the first payment never came, so the member is free to choose again. An agreement
    already signed at the channel is unsigned there (nothing will ever be charged through it); `agreement`: the
    caller's locked copy, else it is locked here, after the membership (the lock order)."""
    _under_lock(membership, "be abandoned", Status.PENDING)
    membership.status, membership.ended_at = Status.ABANDONED, clock.now()
    membership.save(update_fields=["status", "ended_at"])
    if agreement is None:
        agreement = locking.lock_one(Agreement.objects.filter(membership=membership))
    if agreement is not None and agreement.status == Agreement.Status.ACTIVE:
        request_unsign(agreement)
    log_action(action="membership.abandoned", obj=membership, source=Source.SYSTEM)


def start_period(*, membership: Membership, charge: Charge, order_no: str, source: str) -> None:
    """The money for `charge` arrived: its period starts. A first period (or a late payment of a membership left
    past_due by the old retry rule) starts now; a renewal, paid inside its window C-2..C, continues from the period
    end, so Jan 31 renews on Feb 28 and then Mar 31, whatever day inside the window the money came."""
    allowed = (Status.PENDING, Status.ACTIVE, Status.PAST_DUE)
    _under_lock(
        membership, "start a period", *allowed, *([Status.ABANDONED] if charge.period_index == 0 else [])
    )
    plan, moment, before = membership.plan, clock.now(), membership.status
    if charge.period_index == 0 or membership.status == Status.PAST_DUE:
        membership.anchor_at, membership.anchor_index = moment, charge.period_index
    membership.period_index = charge.period_index
    if plan.period in PERIOD_MONTHS:
        start, end = period_bounds(
            anchor_at=membership.anchor_at,
            period=plan.period,
            index=membership.period_index - membership.anchor_index,
        )
    else:
        start, end = moment, None
    membership.current_period_start, membership.current_period_end = start, end
    membership.status, membership.failed_attempts, membership.past_due_since = Status.ACTIVE, 0, None
    membership.next_charge_at = membership.next_reminder_at = None
    coming = schedule.coming_cycle(membership) if membership.auto_renew else None
    if coming is not None:
        # The renewal sweep's first step for the coming cycle is its notice (C-4); reminders come before.
        membership.next_charge_at = coming.notice_at
        membership.next_reminder_at = coming.reminder_at(plan.reminder_schedule()[0])
    membership.save()
    log_action(
        action="membership.renewed" if charge.period_index else "membership.activated",
        obj=membership,
        source=source,
        data={
            "order_no": order_no,
            "amount_fen": charge.amount_fen,
            "period_index": charge.period_index,
            "from": before,
            "period_start": clock.iso(membership.current_period_start),
            "period_end": clock.iso(membership.current_period_end),
        },
    )
    notify_member(
        membership=membership,
        kind="membership.renewed" if charge.period_index else "membership.subscribed",
        key=f"paid:{charge.pk}",
        order_no=order_no,
        amount_fen=charge.amount_fen,
    )


def charge_refused(
    *, membership: Membership, agreement: Agreement | None, charge: Charge, retry_at: datetime | None
) -> None:
    """A renewal attempt was refused. With `retry_at` (an attempt left in the window) the membership stays active
    with every day paid for and the member is told when we try again; without, auto-renew ends (the membership
    runs to its period end) and the member is told when it ends and how to join again."""
    _under_lock(membership, "have a renewal refused", Status.ACTIVE)
    membership.failed_attempts += 1
    if retry_at is None:
        membership.save(update_fields=["failed_attempts"])
        end_auto_renew(
            membership=membership,
            agreement=agreement,
            why="renewal_failed",
            data={"cycle": charge.period_index, "attempts": membership.failed_attempts},
        )
        return
    membership.next_charge_at = retry_at
    membership.save(update_fields=["failed_attempts", "next_charge_at"])
    notify_member(
        membership=membership,
        kind="membership.charge_failed",
        key=f"{charge.period_index}:{membership.failed_attempts}",
        amount_fen=charge.amount_fen,
        retry_at=retry_at,
    )


def end_auto_renew(
    *, membership: Membership, agreement: Agreement | None, why: str, data: dict | None = None
) -> None:
    """Auto-renew ends without a cancellation receipt: the cycle's renewal failed for good, or could not be made
    by the rules (first reminder too late, window missed). No further charge; the membership runs to its period
    end and then expires; the agreement is unsigned at the channel (it will not be used again: a member who wants
    VIP again joins again); audited as membership.{why}; the member is told (once per cycle)."""
    _under_lock(membership, "end auto-renew", Status.ACTIVE)
    membership.auto_renew, membership.next_charge_at, membership.next_reminder_at = False, None, None
    membership.save(update_fields=["auto_renew", "next_charge_at", "next_reminder_at"])
    request_unsign(agreement)
    log_action(action=f"membership.{why}", obj=membership, source=Source.SYSTEM, data=data or {})
    notify_member(
        membership=membership,
        kind="membership.renewal_ended",
        key=f"{membership.period_index + 1}",
        reason=why,
    )


def expire(*, membership: Membership, reason: ExpiryReason) -> None:
    """active / past_due → expired: the period ended without auto-renew (active), or a membership left past_due by
    the old retry rule is ended (renewal_failed)."""
    _under_lock(membership, "expire", Status.ACTIVE, Status.PAST_DUE)
    before = membership.status
    membership.status, membership.ended_at = Status.EXPIRED, clock.now()
    membership.auto_renew, membership.next_charge_at, membership.next_reminder_at = False, None, None
    membership.save()
    log_action(
        action="membership.expired",
        obj=membership,
        source=Source.SYSTEM,
        data={"from": before, "reason": reason},
    )
    notify_member(membership=membership, kind="membership.expired", key="end")


def stop_renewing(*, membership: Membership, why: str) -> None:
    """Auto-renew off without a receipt and without a message: there is nothing we may charge through (no
    agreement in force, or the price is above the signed cap). The membership runs to its period end. `why` names
    the audit action."""
    _under_lock(membership, "stop renewing", Status.ACTIVE, Status.PAST_DUE)
    membership.auto_renew, membership.next_charge_at = False, None
    membership.save(update_fields=["auto_renew", "next_charge_at"])
    log_action(action=f"membership.{why}", obj=membership, source=Source.SYSTEM)


def cancel(
    *,
    membership: Membership,
    agreement: Agreement | None,
    mode: str,
    source: str,
    at: datetime,
    actor=None,
    audited_actor=None,
    reason: str = "",
    comment: str = "",
    refund_fen: int = 0,
    quote: dict | None = None,
    refund=None,
    closed_orders: list[dict] | None = None,
) -> Cancellation:
    """active / past_due → cancelled (immediate, or any cancel of a past-due membership), or auto-renew off to
    the period end: no further charge, the agreement unsigned at the channel (through the outbox, if still in
    force), one receipt, audited, sent to the member. The agreement, if any, is locked by the caller after the
    membership and before any refund's payment (the lock order). `closed_orders`: the unpaid VIP-priced orders
    the caller closed with the refund, listed on the receipt."""
    _under_lock(membership, "be cancelled", Status.ACTIVE, Status.PAST_DUE)
    ends_now = mode == Cancellation.Mode.IMMEDIATE or membership.status == Status.PAST_DUE
    if ends_now:
        membership.status, membership.ended_at = Status.CANCELLED, at
    membership.auto_renew, membership.next_charge_at, membership.next_reminder_at = False, None, None
    membership.save()
    request_unsign(agreement)
    cancellation = Cancellation.objects.create(
        receipt_no=ids.public_number("C"),
        membership=membership,
        mode=mode,
        source=source,
        actor=actor,
        reason=reason,
        comment=comment,
        received_at=at,
        effective_at=at if ends_now else (membership.current_period_end or at),
        refund_fen=refund_fen,
        quote=quote or {},
        refund=refund,
        closed_orders=closed_orders or [],
    )
    log_action(
        action=f"membership.cancelled.{mode}",
        obj=membership,
        actor=audited_actor,
        source=audit_source(source),
        data={
            "receipt_no": cancellation.receipt_no,
            "via": source,
            "refund_fen": refund_fen,
            "closed_orders": [o["order_no"] for o in cancellation.closed_orders],
            "effective_at": clock.iso(cancellation.effective_at),
            "reason": reason,
        },
    )
    notify_member(
        membership=membership,
        kind="membership.cancelled",
        key=cancellation.receipt_no,
        amount_fen=cancellation.refund_fen,
        receipt=cancellation,
    )
    return cancellation


def request_unsign(agreement: Agreement | None) -> None:
    """An agreement in force (or still to be signed) is to be ended at the channel: through the outbox, after the
    caller's transaction."""
    if agreement is None or agreement.status not in (Agreement.Status.ACTIVE, Agreement.Status.PENDING):
        return
    locking.hold(agreement)
    agreement.status = Agreement.Status.CANCEL_REQUESTED
    agreement.save(update_fields=["status"])
    outbox.enqueue(topic=UNSIGN_TOPIC, payload={"agreement": agreement.pk})
