"""The SLA sweep: overdue tickets and complaints are flagged and escalated; a cancellation ticket still open past
its deadline turns auto-renew off by itself, so slow support never costs the member a charge."""

from django.db import transaction

from kameng.core import clock
from kameng.core.audit import Source, log_action
from kameng.core.errors import DomainError
from kameng.support.models import Complaint, Ticket


def escalate_overdue(*, limit: int = 200) -> int:
    handled = 0
    with transaction.atomic():
        overdue = list(
            Ticket.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("user")
            .filter(status__in=Ticket.OPEN_STATES, due_at__lt=clock.now(), overdue_at__isnull=True)
            .order_by("due_at")[:limit]
        )
        for ticket in overdue:
            ticket.overdue_at = clock.now()
            ticket.save(update_fields=["overdue_at"])
            log_action(
                action="ticket.overdue_escalated",
                obj=ticket,
                source=Source.SYSTEM,
                data={"due_at": clock.iso(ticket.due_at), "category": ticket.category},
            )
            handled += 1
    for ticket in overdue:
        if ticket.category == Ticket.Category.CANCEL_MEMBERSHIP:
            _stop_auto_renew(ticket.pk)
    return handled + _escalate_complaints(limit=limit)


def _escalate_complaints(*, limit: int) -> int:
    with transaction.atomic():
        late = list(
            Complaint.objects.select_for_update(skip_locked=True)
            .filter(answered_at__isnull=True, overdue_at__isnull=True, due_at__lt=clock.now())
            .order_by("due_at")[:limit]
        )
        for complaint in late:
            complaint.overdue_at = clock.now()
            complaint.save(update_fields=["overdue_at"])
            log_action(action="complaint.overdue_escalated", obj=complaint, source=Source.SYSTEM)
    return len(late)


def _stop_auto_renew(ticket_id: int) -> None:
    from kameng.membership import cancellation
    from kameng.membership.models import Cancellation

    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().select_related("user").get(pk=ticket_id)
        if ticket.auto_renew_stopped_at is not None or ticket.status not in Ticket.OPEN_STATES:
            return
        try:
            made = cancellation.cancel_membership(
                user=ticket.user, mode="end_of_period", source=Cancellation.Source.SUPPORT_OVERDUE
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
