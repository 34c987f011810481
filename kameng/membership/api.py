from typing import Annotated

from django.urls import reverse
from ninja import Field, Router

from kameng.core.api import IDEMPOTENT, SIGNED_IN, WITH_BODY, answers, idempotent
from kameng.core.audit import Source
from kameng.core.client import client_ip
from kameng.core.clock import iso
from kameng.membership import cancellation, quotes, selectors, services
from kameng.membership.error_codes import MembershipErrorCode as E
from kameng.membership.models import Cancellation
from kameng.membership.schemas import (
    PLAN_EXAMPLES,
    AutoRenewIn,
    AutoRenewOut,
    CancelIn,
    CancelOut,
    CancelRefusalOut,
    MembershipOut,
    PlanOut,
    QuoteOut,
    SubscribedOut,
    SubscribeIn,
)
from kameng.orders.views import pay_link

router = Router(tags=["membership"])


def _perks(plan) -> list[str]:
    flags = {
        "vip_price": plan.perk_vip_price,
        "priority_fulfilment": plan.perk_priority_fulfilment,
        "priority_support": plan.perk_priority_support,
    }
    return [name for name, on in flags.items() if on]


@router.get(
    "/membership/plans", response=Annotated[list[PlanOut], Field(examples=[PLAN_EXAMPLES])], auth=None
)
def list_plans(request):
    """The VIP plans on sale, with their refund policy in words."""
    return [
        {
            "code": p.code,
            "name": p.name,
            "period": p.period,
            "price_fen": p.price_fen,
            "discount_percent": p.discount_percent,
            "perks": _perks(p),
            "refund_policy": selectors.refund_policy_text(p),
        }
        for p in selectors.list_plans()
    ]


@router.post(
    "/membership/subscribe",
    **answers(
        {201: SubscribedOut},
        *SIGNED_IN,
        *WITH_BODY,
        *IDEMPOTENT,
        E.UNKNOWN_PLAN,
        E.UNKNOWN_CHANNEL,
        E.PLAN_DOES_NOT_RENEW,
        E.CONSENT_REQUIRED,
        E.SUBSCRIPTION_PENDING,
        E.ALREADY_MEMBER,
    ),
)
def subscribe(request, payload: SubscribeIn):
    """Joins VIP. Auto-renew is opt-in and needs `auto_renew_consent: true`; the answer carries the disclosure.

    Pay at `pay_url`: with auto-renew it is the channel's agreement signing page, and the first period is charged
    through the agreement once signed."""

    def action():
        made = services.subscribe(
            user=request.user,
            plan_code=payload.plan_code,
            channel=payload.channel,
            auto_renew=payload.auto_renew,
            consent=services.ConsentContext(
                given=payload.auto_renew_consent,
                ip=client_ip(request),
                user_agent=request.headers.get("User-Agent", ""),
            ),
            source=Source.API,
        )
        return 201, {
            "order_no": made.order.order_no,
            "amount_fen": made.order.amount_fen,
            "pay_url": pay_link(made.order),
            "auto_renew": made.membership.auto_renew,
            "disclosure": made.disclosure,
        }

    return idempotent(request, action)


@router.get("/membership", **answers({200: MembershipOut}, *SIGNED_IN))
def my_membership(request):
    """The member centre in numbers: status, period, auto-renew, next charge, savings against what VIP cost."""
    centre = selectors.member_centre(user=request.user)
    m = centre.membership
    agreement = getattr(m, "agreement", None) if m is not None else None
    return {
        "status": centre.status,
        "plan_code": m.plan.code if m else None,
        "plan_name": m.plan.name if m else None,
        "current_period_start": iso(m.current_period_start) if m else None,
        "current_period_end": iso(m.current_period_end) if m else None,
        "auto_renew": bool(m and m.auto_renew),
        "channel": m.channel if m else None,
        "next_charge_at": iso(centre.next_charge_at),
        "next_charge_date": centre.next_charge_date.isoformat() if centre.next_charge_date else None,
        "charge_window_opens": iso(centre.charge_window_opens),
        "next_charge_fen": centre.next_charge_fen,
        "savings_period_fen": centre.savings_period_fen,
        "savings_total_fen": centre.savings_total_fen,
        "paid_total_fen": centre.paid_total_fen,
        "value_note": centre.value_note,
        "agreement": (
            {
                "channel": agreement.channel,
                "agreement_no": agreement.channel_agreement_no or agreement.external_no,
                "status": agreement.status,
            }
            if agreement
            else None
        ),
        "pending_order_no": centre.pending_order_no,
    }


def receipt_answer(c: Cancellation) -> dict:

    return {
        "receipt_no": c.receipt_no,
        "mode": c.mode,
        "received_at": iso(c.received_at),
        "effective_at": iso(c.effective_at),
        "refund_fen": c.refund_fen,
        "refund_status": c.refund.status if c.refund_id else "none",
        "receipt_url": reverse("membership:receipt", args=[c.receipt_no]),
        "closed_orders": c.closed_orders,
    }


@router.get("/membership/refund-quote", **answers({200: QuoteOut}, *SIGNED_IN, E.NO_MEMBERSHIP))
def refund_quote(request):
    """What cancelling immediately would refund now, each number shown (docs/rules.md#5-cancellation)."""
    quote, quote_id = cancellation.refund_quote(user=request.user)
    return quotes.quote_answer(quote=quote, quote_id=quote_id)


@router.post(
    "/membership/auto-renew",
    **answers(
        {200: AutoRenewOut},
        *SIGNED_IN,
        *WITH_BODY,
        *IDEMPOTENT,
        E.RESIGN_REQUIRED,
        E.NO_MEMBERSHIP,
        E.MEMBERSHIP_ENDED,
        E.NOTHING_TO_TURN_OFF,
    ),
)
def auto_renew(request, payload: AutoRenewIn):
    """`enabled: false` turns auto-renew off (the end-of-period cancellation, with a receipt)."""

    def action():
        return 200, {"auto_renew": cancellation.set_auto_renew(user=request.user, enabled=payload.enabled)}

    return idempotent(request, action)


def _with_new_quote(spec: dict) -> dict:
    """The cancel's 409 envelope may carry the new quote (stale_quote): declared as such in the schema."""
    spec["response"][409] = CancelRefusalOut
    return spec


@router.post(
    "/membership/cancel",
    **_with_new_quote(
        answers(
            {200: CancelOut},
            *SIGNED_IN,
            *WITH_BODY,
            *IDEMPOTENT,
            E.BAD_MODE,
            E.BAD_REASON,
            E.BAD_QUOTE,
            E.STALE_QUOTE,
            E.NO_MEMBERSHIP,
            E.MEMBERSHIP_ENDED,
            E.NOTHING_TO_TURN_OFF,
        )
    ),
)
def cancel(request, payload: CancelIn):
    """退订. `mode`: `end_of_period` (no further charge, VIP to the period end) or `immediate` (ends now, refund by
    the policy; a refund closes the member's unpaid VIP-priced orders of the period, listed in `closed_orders`).
    Repeats return the same receipt. A `quote_id` whose inputs changed since (savings used, a renewal, a new
    period, the plan's terms) or older than 30 minutes is refused with 409 `stale_quote`, the new quote in
    `error.quote`."""

    def action():
        made = cancellation.cancel_membership(
            user=request.user,
            mode=payload.mode,
            reason=payload.reason,
            comment=payload.comment,
            quote_id=payload.quote_id,
            source=Cancellation.Source.SELF_SERVICE,
        )
        return 200, receipt_answer(made)

    return idempotent(request, action)
