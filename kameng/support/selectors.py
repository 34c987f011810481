from django.db.models import QuerySet

from kameng.core import clock
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
