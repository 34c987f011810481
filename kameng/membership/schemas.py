"""The membership API's request and answer schemas, with the examples the OpenAPI document shows."""

from typing import Annotated

from ninja import Field, Schema
from pydantic import ConfigDict

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
                        "next_charge_at": "2026-12-25T22:00:00+08:00",
                        "next_charge_date": "2026-12-25",
                        "charge_window_opens": "2026-12-23T07:00:00+08:00",
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
                            "到期自动续费:下次计划扣款日 2026-12-25,金额 ¥15.00,通过支付宝扣款,每次不超过 ¥15.00。",
                            "扣款在计划扣款日及前 2 天(2026-12-23 至 2026-12-25)每天 07:00–22:00 之间进行,"
                            "成功一次即止。",
                            "每个计划扣款日前 7、3 天会通过站内信和邮件提醒你。",
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
                    "next_charge_at": "2026-12-25T22:00:00+08:00",
                    "next_charge_date": "2026-12-25",
                    "charge_window_opens": "2026-12-23T07:00:00+08:00",
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
    next_charge_at: str | None  # the end of the coming charge's window (C 22:00)
    next_charge_date: str | None  # C, the planned charge date
    charge_window_opens: str | None  # C-2 07:00
    next_charge_fen: int | None
    savings_period_fen: int
    savings_total_fen: int
    paid_total_fen: int
    value_note: str
    agreement: AgreementOut | None
    pending_order_no: str | None


QUOTE_EXAMPLE = {
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
    "closes_orders": ["K20261130512093311872"],
    "quote_id": "eyJtIjoxLCJwIjowLCJyIjo5NTgsInQiOjE3OTYwMzk2MjZ9:1xWBZK:"
    "EZAe2xdP_MfH-2d8ljvZ7OssYoOdSymnKbi8J28pR-I",
}


class QuoteOut(Schema):
    model_config = ConfigDict(json_schema_extra={"examples": [QUOTE_EXAMPLE]})

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
    # The unpaid orders at the VIP price that an immediate cancel paying this refund closes (their keys go back,
    # a payment still made for one is refunded in full).
    closes_orders: list[str]
    # Bring it back to /membership/cancel: binding 30 minutes while nothing the quote was computed from changes.
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
    # The quote the member saw (from refund-quote); the refund is never less than it, within 30 minutes, while
    # nothing it was computed from changed (else 409 stale_quote with the new quote).
    quote_id: Annotated[str, Field(max_length=500)] = ""


class ClosedOrderOut(Schema):
    order_no: str
    subject: str
    amount_fen: int
    discount_fen: int


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
                    "closed_orders": [
                        {
                            "order_no": "K20261130512093311872",
                            "subject": "腾讯Q币 30 元 × 10",
                            "amount_fen": 25900,
                            "discount_fen": 2900,
                        }
                    ],
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
    # The unpaid orders at the VIP price this cancel closed with its refund.
    closed_orders: list[ClosedOrderOut]


class StaleQuoteBody(Schema):
    code: str
    message: str
    # With `stale_quote` only: the quote as it is now, with its own quote_id, to show and confirm again.
    quote: QuoteOut | None = None


class CancelRefusalOut(Schema):
    """The error envelope of a cancel's 409: for `stale_quote` it carries the new quote."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "error": {
                        "code": "stale_quote",
                        "message": "退款报价已失效,请查看新的报价",
                        "quote": QUOTE_EXAMPLE,
                    }
                }
            ]
        }
    )

    error: StaleQuoteBody
