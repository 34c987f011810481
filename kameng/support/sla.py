"""The SLA sweep: overdue tickets and complaints are flagged and escalated; a cancellation ticket still open past
its deadline turns auto-renew off by itself, so slow support never costs the member a charge."""

from datetime import datetime, timedelta

from django.db.models import Min, QuerySet

from kameng.core import clock, locking, sweeps
from kameng.core.audit import Source, log_action
from kameng.core.errors import DomainError
from kameng.membership import cancellation
from kameng.membership.models import Cancellation
from kameng.support.models import Complaint, Ticket


def escalate_overdue(*, limit: int = 200) -> int:
    handled = 0
    for ticket in sweeps.lease_due(due=_overdue_tickets, lease=_flag_ticket, limit=limit, batch=limit):
        if ticket.category == Ticket.Category.CANCEL_MEMBERSHIP:
            _stop_auto_renew(ticket.pk)  # in a transaction of its own: it takes the membership's locks
        handled += 1
    late = sweeps.lease_due(due=_late_complaints, lease=_flag_complaint, limit=limit, batch=limit)
    return handled + len(list(late))


def _unescalated_tickets() -> QuerySet[Ticket]:
    return Ticket.objects.filter(status__in=Ticket.OPEN_STATES, overdue_at__isnull=True)


def _unescalated_complaints() -> QuerySet[Complaint]:
    return Complaint.objects.filter(answered_at__isnull=True, overdue_at__isnull=True)


def next_escalation_due() -> datetime | None:
    deadlines = [
        unescalated.aggregate(at=Min("due_at"))["at"]
        for unescalated in (_unescalated_tickets(), _unescalated_complaints())
    ]
    earliest = min((d for d in deadlines if d is not None), default=None)
    # Overdue means strictly past the deadline: at the deadline itself there is still time.
    return earliest and earliest + timedelta(microseconds=1)


def _overdue_tickets() -> QuerySet[Ticket]:
    return _unescalated_tickets().select_related("user").filter(due_at__lt=clock.now()).order_by("due_at")


def _flag_ticket(ticket: Ticket) -> Ticket:
    ticket.overdue_at = clock.now()
    ticket.save(update_fields=["overdue_at"])
    log_action(
        action="ticket.overdue_escalated",
        obj=ticket,
        source=Source.SYSTEM,
        data={"due_at": clock.iso(ticket.due_at), "category": ticket.category},
    )
    return ticket


def _late_complaints() -> QuerySet[Complaint]:
    return _unescalated_complaints().filter(due_at__lt=clock.now()).order_by("due_at")


def _flag_complaint(complaint: Complaint) -> Complaint:
    complaint.overdue_at = clock.now()
    complaint.save(update_fields=["overdue_at"])
    log_action(action="complaint.overdue_escalated", obj=complaint, source=Source.SYSTEM)
    return complaint


@locking.retried_atomic  # ticket → membership → agreement: a deadlock is retried once
def _stop_auto_renew(ticket_id: int) -> None:
    ticket = locking.lock_one(Ticket.objects.select_related("user").filter(pk=ticket_id))
    if ticket.auto_renew_stopped_at is not None or ticket.status not in Ticket.OPEN_STATES:
        return
    try:
        made = cancellation.cancel_membership(
            user=ticket.user,
            mode=Cancellation.Mode.END_OF_PERIOD,
            source=Cancellation.Source.SUPPORT_OVERDUE,
        )
    except DomainError:
        made = None  # no membership left to cancel: nothing could be charged anyway
    ticket.auto_renew_stopped_at = clock.now()
    ticket.cancellation = made
    ticket.save(update_fields=["auto_renew_stopped_at", "cancellation"])
    log_action(
        action="ticket.auto_renew_stopped",
        obj=ticket,
        source=Source.SYSTEM,
        data={"receipt_no": made.receipt_no if made else ""},
    )
