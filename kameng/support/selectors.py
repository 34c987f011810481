from django.db.models import QuerySet

from kameng.core import clock
from kameng.core.errors import DomainError
from kameng.membership import cancellation
from kameng.membership.refunds import RefundQuote
from kameng.support.models import Complaint, Ticket, TicketMessage
from kameng.support.services import is_agent


def tickets_of(user) -> QuerySet[Ticket]:
    return Ticket.objects.filter(user=user).order_by("-created_at")


def ticket_for(*, viewer, ticket_no: str) -> Ticket | None:
    """The ticket for its member or a support agent; None (a 404) for anybody else."""
    ticket = Ticket.objects.select_related("user", "cancellation").filter(ticket_no=ticket_no).first()
    if ticket is None or not (ticket.user_id == viewer.pk or is_agent(viewer)):
        return None
    return ticket


def attachment_for(*, viewer, message_id: int) -> TicketMessage | None:
    message = (
        TicketMessage.objects.select_related("ticket").filter(pk=message_id).exclude(attachment="").first()
    )
    if message is None or not (message.ticket.user_id == viewer.pk or is_agent(viewer)):
        return None
    return message


def queue(
    *, status: str = "", category: str = "", overdue: bool = False, vip: bool = False
) -> QuerySet[Ticket]:
    """The agents' queue: VIP first, then by deadline."""
    tickets = Ticket.objects.select_related("user")
    tickets = tickets.filter(status=status) if status else tickets.filter(status__in=Ticket.OPEN_STATES)
    if category:
        tickets = tickets.filter(category=category)
    if overdue:
        tickets = tickets.filter(due_at__lt=clock.now())
    if vip:
        tickets = tickets.filter(is_vip=True)
    return tickets.order_by("-is_vip", "due_at", "id")


def complaints_of(user) -> QuerySet[Complaint]:
    return Complaint.objects.filter(user=user).order_by("-created_at")


def cancel_quote(ticket: Ticket) -> tuple[RefundQuote | None, str]:
    """What the ticket's member would get back by cancelling now, with the signed quote id the agent's approval
    brings back (bound by it as the member's own cancel is); (None, "") when the ticket is not about cancelling or
    refunding, is decided, or the member has nothing to cancel."""
    if ticket.category not in (Ticket.Category.CANCEL_MEMBERSHIP, Ticket.Category.REFUND):
        return None, ""
    if ticket.status not in Ticket.OPEN_STATES:
        return None, ""
    try:
        return cancellation.refund_quote(user=ticket.user)
    except DomainError:  # no membership to cancel: the page says so
        return None, ""
