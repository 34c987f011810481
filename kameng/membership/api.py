from typing import Annotated

from django.http import JsonResponse
from ninja import Field, Router, Schema

from kameng.core.api import idempotent
from kameng.core.audit import Source
from kameng.core.clock import iso
from kameng.membership import cancellation, selectors, services
from kameng.membership.models import Cancellation
from kameng.orders.views import pay_link

router = Router(tags=["membership"])


class PlanOut(Schema):
    code: str
    name: str
    period: str
    price_fen: int
    discount_percent: int
    perks: list[str]
    refund_policy: str


class SubscribeIn(Schema):
    plan_code: Annotated[str, Field(max_length=32)]
    channel: Annotated[str, Field(max_length=16)]
    auto_renew: Annotated[bool, Field(strict=True)] = False
    # Explicit, separate consent to automatic renewal: required (true) whenever auto_renew is true.
    auto_renew_consent: Annotated[bool, Field(strict=True)] = False


class SubscribedOut(Schema):
    order_no: str
    amount_fen: int
    pay_url: str
    auto_renew: bool
    disclosure: dict


class AgreementOut(Schema):
    channel: str
    agreement_no: str
    status: str


class MembershipOut(Schema):
    status: str
    plan_code: str | None
    plan_name: str | None
    current_period_start: str | None
    current_period_end: str | None
    auto_renew: bool
    channel: str | None
    next_charge_at: str | None
    next_charge_fen: int | None
    savings_period_fen: int
    savings_total_fen: int
    paid_total_fen: int
    value_note: str
    agreement: AgreementOut | None
    pending_order_no: str | None


def _perks(plan) -> list[str]:
    flags = {
        "vip_price": plan.perk_vip_price,
        "priority_fulfilment": plan.perk_priority_fulfilment,
        "priority_support": plan.perk_priority_support,
    }
    return [name for name, on in flags.items() if on]


@router.get("/membership/plans", response=list[PlanOut], auth=None)
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


@router.post("/membership/subscribe", response={201: SubscribedOut})
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
                ip=request.META.get("REMOTE_ADDR"),
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

    status, body = idempotent(request, action)
    return JsonResponse(body, status=status)


@router.get("/membership", response=MembershipOut)
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


class QuoteOut(Schema):
    refund_fen: int
    paid_fen: int
    total_days: int
    used_days: int
    remaining_days: int
    prorated_fen: int
    deducted_fen: int
    penalty_fen: int
    rule: str
    window_ends_at: str | None
    quoted_at: str
    quote_id: str


class AutoRenewIn(Schema):
    enabled: Annotated[bool, Field(strict=True)]


class AutoRenewOut(Schema):
    auto_renew: bool


class CancelIn(Schema):
    mode: Annotated[str, Field(max_length=16)]
    reason: Annotated[str, Field(max_length=32)] = ""
    comment: Annotated[str, Field(max_length=500)] = ""
    # The quote the member saw (from refund-quote); the refund is never less than it, within 30 minutes.
    quote_id: Annotated[str, Field(max_length=500)] = ""


class CancelOut(Schema):
    receipt_no: str
    mode: str
    received_at: str
    effective_at: str
    refund_fen: int
    refund_status: str
    receipt_url: str


def receipt_answer(c: Cancellation) -> dict:
    from django.urls import reverse

    return {
        "receipt_no": c.receipt_no,
        "mode": c.mode,
        "received_at": iso(c.received_at),
        "effective_at": iso(c.effective_at),
        "refund_fen": c.refund_fen,
        "refund_status": c.refund.status if c.refund_id else "none",
        "receipt_url": reverse("membership:receipt", args=[c.receipt_no]),
    }


@router.get("/membership/refund-quote", response=QuoteOut)
def refund_quote(request):
    """What cancelling immediately would refund now, with every number of the formula (DESIGN §4)."""
    quote, quote_id = cancellation.refund_quote(user=request.user)
    return {**quote.as_dict(), "quote_id": quote_id}


@router.post("/membership/auto-renew", response=AutoRenewOut)
def auto_renew(request, payload: AutoRenewIn):
    """`enabled: false` turns auto-renew off (the end-of-period cancellation, with a receipt)."""

    def action():
        return 200, {"auto_renew": cancellation.set_auto_renew(user=request.user, enabled=payload.enabled)}

    status, body = idempotent(request, action)
    return JsonResponse(body, status=status)


@router.post("/membership/cancel", response=CancelOut)
def cancel(request, payload: CancelIn):
    """退订. `mode`: `end_of_period` (no further charge, VIP to the period end) or `immediate` (ends now, refund by
    the policy). Repeats return the same receipt."""

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

    status, body = idempotent(request, action)
    return JsonResponse(body, status=status)
