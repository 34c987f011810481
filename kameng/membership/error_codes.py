from django.utils.translation import gettext_lazy as _

from kameng.core.errors import ErrorCode


class MembershipErrorCode(ErrorCode):
    UNKNOWN_PLAN = "unknown_plan", 404, _("没有套餐 %(plan)s")
    UNKNOWN_CHANNEL = "unknown_channel", 422, _("不支持的支付渠道 %(channel)s")
    PLAN_DOES_NOT_RENEW = "plan_does_not_renew", 422, _("永久套餐不会续费")
    # 400, not 422: the product rules fix this answer (docs/rules.md#4-membership), and clients rely on it.
    CONSENT_REQUIRED = (
        "consent_required",
        400,
        _("开通自动续费需要你明确同意:请勾选自动续费条款(auto_renew_consent=true)"),
    )
    SUBSCRIPTION_PENDING = "subscription_pending", 409, _("已有一笔会员购买在等待支付")
    ALREADY_MEMBER = "already_member", 409, _("你已经是会员")
    NO_MEMBERSHIP = "no_membership", 404, _("你没有可退订的会员")
    BAD_QUOTE = "bad_quote", 422, _("这不是本店给出的退款报价")
    # Stale: older than 30 minutes, or something it was computed from changed (kameng/membership/quotes.py).
    STALE_QUOTE = (
        "stale_quote",
        409,
        _("退款报价已失效(已超过 30 分钟,或会员优惠、未付订单、周期、套餐价格已变化),请查看新的报价"),
    )
    BAD_MODE = "bad_mode", 422, _("退订方式须为以下之一:%(choices)s")
    BAD_REASON = "bad_reason", 422, _("退订原因须为以下之一:%(choices)s")
    MEMBERSHIP_ENDED = "membership_ended", 409, _("这个会员已经结束")
    NOTHING_TO_TURN_OFF = "nothing_to_turn_off", 409, _("永久会员不会续费,请选择立即退订")
    RESIGN_REQUIRED = "resign_required", 409, _("自动续费只能在重新开通时签署新协议来打开")
    UNKNOWN_CHARGE = "unknown_charge", 404, _("订单 %(order_no)s 没有扣款记录")
    # A support approval's refund above the policy (finance's explicit choice, kameng/support/services.py).
    NOT_ABOVE_POLICY = (
        "not_above_policy",
        422,
        _("退款 %(amount)s 不高于按政策的报价 %(policy)s:按政策退款请不要选择“高于政策退款”"),
    )
    REFUND_ABOVE_PAID = "refund_above_paid", 422, _("退款最多为本期实付 %(paid)s")
