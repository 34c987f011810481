from typing import Annotated

from ninja import Field, Router, Schema
from pydantic import ConfigDict

from kameng.core.api import IDEMPOTENT, SIGNED_IN, WITH_BODY, answers, idempotent
from kameng.core.audit import Source
from kameng.core.clock import iso
from kameng.support import services
from kameng.support.error_codes import SupportErrorCode as E

router = Router(tags=["support"])


class TicketIn(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "category": "cancel_membership",
                    "order_no": "V20261125961774937965",
                    "reason": "会员中心打不开,请帮我退订月卡并关闭自动续费。",
                }
            ]
        }
    )

    category: Annotated[str, Field(max_length=32)]
    order_no: Annotated[str, Field(max_length=32)] = ""
    reason: Annotated[str, Field(max_length=5000)]


class TicketOut(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "ticket_no": "T20261125403918277160",
                    "status": "open",
                    "due_at": "2026-11-30T23:59:59+08:00",
                    "verified": True,
                    "priority": True,
                }
            ]
        }
    )

    ticket_no: str
    status: str
    due_at: str
    verified: bool
    priority: bool


@router.post(
    "/support/tickets",
    **answers(
        {201: TicketOut},
        *SIGNED_IN,
        *WITH_BODY,
        *IDEMPOTENT,
        E.BAD_CATEGORY,
        E.EMPTY_TEXT,
        E.TEXT_TOO_LONG,
        E.UNKNOWN_ORDER,
        E.TOO_MANY_TICKETS,
        E.TOO_MANY_OPEN_TICKETS,
    ),
)
def file_ticket(request, payload: TicketIn):
    """Files a ticket (退订会员 / 退款 / 订单问题 / 其他). The order number, if given, must be yours; a membership
    purchase or renewal marks the ticket verified. Due at the end of the 3rd working day (Chinese holidays count).
    A member files at most 5 tickets in 10 minutes (by default): past that, 429 with `Retry-After`, and an
    Idempotency-Key used for it stays free. A member keeps at most 10 tickets open: past that, 409
    `too_many_open_tickets` (a state, not a rate: write in an open ticket, or wait until support answers one)."""

    def action():
        ticket = services.file_ticket(
            user=request.user,
            category=payload.category,
            order_no=payload.order_no,
            reason=payload.reason,
            source=Source.API,
        )
        return 201, {
            "ticket_no": ticket.ticket_no,
            "status": ticket.status,
            "due_at": iso(ticket.due_at),
            "verified": ticket.proof_verified,
            "priority": ticket.is_vip,
        }

    return idempotent(request, action)
