"""Renewal reminders: on the plan's days before each cycle's planned date C, at the member's charge time.

The first reminder of a cycle must be sent at least 5 calendar days before the cycle's first attempt (C-2), as
`schedule.Cycle.reminder_deadline` says. A cycle whose first reminder could not be sent by then (the sweep was
down, the plan changed) is never charged: auto-renew pauses for it, the membership runs to its period end and the
member is told when it ends and how to join again (docs/rules.md#renewal-schedule).
"""

from datetime import datetime, timedelta

from django.db.models import Min, QuerySet

from kameng.core import clock, sweeps
from kameng.core.audit import Source, log_action
from kameng.membership import lifecycle, schedule
from kameng.membership.models import Membership, Reminder
from kameng.membership.notices import notify_member

Status = Membership.Status
BATCH = 100
LATE_REMINDER = "renewal_paused_late_reminder"  # the audit action's tail and the member's message


def send_due_reminders(*, limit: int = 5000) -> int:
    """Sends each due renewal reminder once; pauses the renewal of a cycle whose first reminder is too late."""
    # Reminders are database writes (the mail goes through the outbox), so each is sent in its claim transaction.
    return sum(sweeps.lease_due(due=_due_reminders, lease=_remind, limit=limit, batch=BATCH))


def _awaiting_reminder() -> QuerySet[Membership]:
    return Membership.objects.filter(status=Status.ACTIVE, auto_renew=True)


def next_reminder_due() -> datetime | None:
    return _awaiting_reminder().aggregate(at=Min("next_reminder_at"))["at"]


def _due_reminders() -> QuerySet[Membership]:
    return (
        _awaiting_reminder()
        .select_related("plan", "user", "agreement")
        .filter(next_reminder_at__lte=clock.now())
        .order_by("next_reminder_at")
    )


def _remind(membership: Membership) -> int:
    """Sends the latest reminder now due for the coming cycle (earlier missed ones are not sent late) and moves
    next_reminder_at to the next one (or None). A first reminder past its deadline pauses the cycle instead."""
    coming = schedule.coming_cycle(membership)
    if coming is None:
        membership.next_reminder_at = None
        membership.save(update_fields=["next_reminder_at"])
        return 0
    now = clock.now()
    cycle = membership.period_index + 1
    if not reminded(membership, cycle) and clock.local(now).date() > coming.reminder_deadline():
        pause_for_late_reminder(membership, coming)
        return 0
    days = membership.plan.reminder_schedule()
    due = [d for d in days if coming.reminder_at(d) <= now]
    later = [d for d in days if coming.reminder_at(d) > now]
    sent = _send_reminder(membership, days_before=min(due), coming=coming) if due else 0
    membership.next_reminder_at = coming.reminder_at(max(later)) if later else None
    membership.save(update_fields=["next_reminder_at"])
    return sent


def _send_reminder(membership: Membership, *, days_before: int, coming: schedule.Cycle) -> int:
    cycle = membership.period_index + 1
    _, created = Reminder.objects.get_or_create(
        membership=membership,
        period_index=cycle,
        days_before=days_before,
        defaults={
            "charge_at": coming.last_attempt_at,
            "amount_fen": membership.price_fen,
            "sent_at": clock.now(),
        },
    )
    if not created:
        return 0
    notify_member(
        membership=membership,
        kind="membership.reminder",
        key=f"{cycle}:{days_before}",
        charge_at=coming.last_attempt_at,
        window_opens=coming.window_opens,
        days_before=days_before,
    )
    log_action(
        action="membership.reminder_sent",
        obj=membership,
        source=Source.SYSTEM,
        data={"cycle": cycle, "days_before": days_before, "planned": coming.planned.isoformat()},
    )
    return 1


def reminded(membership: Membership, cycle: int) -> bool:
    """Whether the cycle's first reminder was sent."""
    return Reminder.objects.filter(membership=membership, period_index=cycle).exists()


def first_sent_at(membership: Membership, cycle: int) -> datetime | None:
    return (
        Reminder.objects.filter(membership=membership, period_index=cycle)
        .order_by("sent_at")
        .values_list("sent_at", flat=True)
        .first()
    )


def reminded_in_time(membership: Membership, cycle: int, coming: schedule.Cycle) -> bool:
    """Whether the cycle's first reminder went out by its deadline, 5 calendar days before its first attempt
    (the attempts then also wait 5 × 24 hours after it: `earliest_attempt`)."""
    first = first_sent_at(membership, cycle)
    return first is not None and clock.local(first).date() <= coming.reminder_deadline()


def earliest_attempt(membership: Membership, cycle: int) -> datetime | None:
    """No attempt before 5 × 24 hours after the cycle's first reminder."""
    first = first_sent_at(membership, cycle)
    return None if first is None else first + timedelta(days=schedule.MIN_FIRST_REMINDER_DAYS)


def pause_for_late_reminder(membership: Membership, coming: schedule.Cycle) -> None:
    """Too late to remind 5 days before the first attempt: this cycle is never charged (not outside the window,
    not without the 5 days); auto-renew ends, the membership runs to its period end, the member is told."""
    lifecycle.end_auto_renew(
        membership=membership,
        agreement=getattr(membership, "agreement", None),
        why=LATE_REMINDER,
        data={"planned": coming.planned.isoformat(), "deadline": coming.reminder_deadline().isoformat()},
    )
