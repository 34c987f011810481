from typing import Annotated

from ninja import Field, Router, Schema
from pydantic import ConfigDict

from kameng.core.api import IDEMPOTENT, SIGNED_IN, WITH_BODY, answers, idempotent
from kameng.core.audit import Source
from kameng.core.clock import iso
from kameng.membership import cancellation, selectors, services
from kameng.membership.error_codes import MembershipErrorCode as E
from kameng.membership.models import Cancellation
from kameng.orders.views import pay_link

router = Router(tags=["membership"])

PRO_RATA_POLICY = (
    "购买或续费后 48 小时内且未使用会员优惠可全额退款;"
    "之后立即退订按剩余天数比例退款,扣除本期已享会员优惠,不低于 0。"
)
PLAN_EXAMPLES = [
    {
        "code": "vip-month",
        "name": "月卡",
        "period": "month",
        "price_fen": 1500,
        "discount_percent": 5,
        "perks": ["vip_price", "priority_fulfilment", "priority_support"],
        "refund_policy": PRO_RATA_POLICY,
    },
    {
        "code": "vip-lifetime",
        "name": "永久",
        "period": "lifetime",
        "price_fen": 29800,
        "discount_percent": 8,
        "perks": ["vip_price", "priority_fulfilment", "priority_support"],
        "refund_policy": "购买或续费后 48 小时内且未使用会员优惠可全额退款;超过 48 小时不退款。",
    },
]


class PlanOut(Schema):
    model_config = ConfigDict(json_schema_extra={"examples": PLAN_EXAMPLES[:1]})

    code: str
    name: str
    period: str
    price_fen: int
    discount_percent: int
    perks: list[str]
    refund_policy: str


class SubscribeIn(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "plan_code": "vip-month",
                    "channel": "alipay",
                    "auto_renew": True,
                    "auto_renew_consent": True,
                },
                {"plan_code": "vip-year", "channel": "wechat", "auto_renew": False},
            ]
        }
    )

    plan_code: Annotated[str, Field(max_length=32)]
    channel: Annotated[str, Field(max_length=16)]
    auto_renew: Annotated[bool, Field(strict=True)] = False
    # Explicit, separate consent to automatic renewal: required (true) whenever auto_renew is true.
    auto_renew_consent: Annotated[bool, Field(strict=True)] = False


class SubscribedOut(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "order_no": "V20261125961774937965",
                    "amount_fen": 1500,
                    "pay_url": "https://shop.example.com/orders/V20261125961774937965/pay/",
                    "auto_renew": True,
                    "disclosure": {
                        "plan_code": "vip-month",
                        "plan_name": "月卡",
                        "price_fen": 1500,
                        "period": "month",
                        "period_label": "1 个月",
                        "channel": "alipay",
                        "auto_renew": True,
                        "next_charge_at": "2026-12-25T19:53:45+08:00",
                        "next_charge_fen": 1500,
                        "charge_cap_fen": 1500,
                        "reminder_days_before": [7, 3],
                        "terms_version": "2026-11",
                        "refund_policy": PRO_RATA_POLICY,
                        "how_to_cancel": {
                            "member_centre": "/member/",
                            "support_ticket": "提交“退订会员”工单,客服 3 个工作日内处理;逾期未处理自动关闭续费",
                            "channel_settings": "支付宝 App → 我的 → 设置 → 支付设置 → 免密支付/自动扣款",
                        },
                        "text": [
                            "月卡:¥15.00 / 1 个月",
                            "到期自动续费:下次扣款 2026-12-25,金额 ¥15.00,通过支付宝扣款,每次不超过 ¥15.00。",
                            "每次扣款前 7、3 天会通过站内信和邮件提醒你。",
                            "随时可取消:会员中心 → 退订会员(两步完成);或提交退订工单;"
                            "或在支付宝 App → 我的 → 设置 → 支付设置 → 免密支付/自动扣款中关闭。",
                            PRO_RATA_POLICY,
                        ],
                    },
                }
            ]
        }
    )

    order_no: str
    amount_fen: int
    pay_url: str
    auto_renew: bool
    disclosure: dict


class AgreementOut(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"channel": "alipay", "agreement_no": "20265758345199568919", "status": "active"}]
        }
    )

    channel: str
    agreement_no: str
    status: str


class MembershipOut(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "active",
                    "plan_code": "vip-month",
                    "plan_name": "月卡",
                    "current_period_start": "2026-11-25T19:53:45+08:00",
                    "current_period_end": "2026-12-25T19:53:45+08:00",
                    "auto_renew": True,
                    "channel": "alipay",
                    "next_charge_at": "2026-12-25T19:53:45+08:00",
                    "next_charge_fen": 1500,
                    "savings_period_fen": 242,
                    "savings_total_fen": 242,
                    "paid_total_fen": 1500,
                    "value_note": "本期已节省 ¥2.42,低于会费 ¥15.00",
                    "agreement": {
                        "channel": "alipay",
                        "agreement_no": "20265758345199568919",
                        "status": "active",
                    },
                    "pending_order_no": None,
                }
            ]
        }
    )

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
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "refund_fen": 958,
                    "paid_fen": 1500,
                    "total_days": 30,
                    "used_days": 6,
                    "remaining_days": 24,
                    "prorated_fen": 1200,
                    "deducted_fen": 242,
                    "penalty_fen": 0,
                    "rule": "pro_rata",
                    "window_ends_at": "2026-11-27T19:53:45+08:00",
                    "quoted_at": "2026-11-30T19:53:46+08:00",
                    "quote_id": "eyJtIjoxLCJwIjowLCJyIjo5NTgsInQiOjE3OTYwMzk2MjZ9:1xWBZK:"
                    "EZAe2xdP_MfH-2d8ljvZ7OssYoOdSymnKbi8J28pR-I",
                }
            ]
        }
    )

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
    model_config = ConfigDict(json_schema_extra={"examples": [{"enabled": False}]})

    enabled: Annotated[bool, Field(strict=True)]


class AutoRenewOut(Schema):
    model_config = ConfigDict(json_schema_extra={"examples": [{"auto_renew": False}]})

    auto_renew: bool


class CancelIn(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"mode": "immediate", "reason": "not_using", "comment": "最近很少买点卡,先退了"},
                {"mode": "end_of_period", "reason": "unwanted_renewal"},
            ]
        }
    )

    mode: Annotated[str, Field(max_length=16)]
    reason: Annotated[str, Field(max_length=32)] = ""
    comment: Annotated[str, Field(max_length=500)] = ""
    # The quote the member saw (from refund-quote); the refund is never less than it, within 30 minutes.
    quote_id: Annotated[str, Field(max_length=500)] = ""


class CancelOut(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "receipt_no": "C20261130844784239381",
                    "mode": "immediate",
                    "received_at": "2026-11-30T19:53:46+08:00",
                    "effective_at": "2026-11-30T19:53:46+08:00",
                    "refund_fen": 958,
                    "refund_status": "pending",
                    "receipt_url": "/member/receipts/C20261130844784239381/",
                }
            ]
        }
    )

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


@router.get("/membership/refund-quote", **answers({200: QuoteOut}, *SIGNED_IN, E.NO_MEMBERSHIP))
def refund_quote(request):
    """What cancelling immediately would refund now, each number shown (docs/rules.md#5-cancellation)."""
    quote, quote_id = cancellation.refund_quote(user=request.user)
    return {**quote.as_dict(), "quote_id": quote_id}


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


@router.post(
    "/membership/cancel",
    **answers(
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
    ),
)
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

    return idempotent(request, action)
