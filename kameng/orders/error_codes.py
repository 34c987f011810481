from django.utils.translation import gettext_lazy as _

from kameng.core.errors import ErrorCode


class OrderErrorCode(ErrorCode):
    UNKNOWN_ORDER = "unknown_order", 404, _("订单不存在")
    UNKNOWN_CHANNEL = "unknown_channel", 422, _("不支持的支付渠道 %(channel)s,可选:%(choices)s")
    BAD_QUANTITY = "bad_quantity", 422, _("数量须为 1 到 %(limit)s 之间的整数")
    EMPTY_NOTE = "empty_note", 422, _("请写明发了什么货")
    BAD_STATE = "bad_state", 409, _("订单状态为“%(status)s”,不在待发货状态")
    # growth: one member may not hold the stock in unpaid orders, nor place orders without end (docs/security.md)
    TOO_MANY_ORDERS = (
        "too_many_orders",
        429,
        _("下单太频繁:每 %(minutes)s 分钟最多 %(limit)s 笔订单,请 %(wait)s 分钟后再试"),
    )
    TOO_MANY_UNPAID_ORDERS = (
        "too_many_unpaid_orders",
        429,
        _(
            "你已有 %(count)s 笔待支付订单(最多 %(limit)s 笔):请先付款,或等最早的一笔在 %(wait)s 分钟内过期后再下单"
        ),
    )
    TOO_MANY_RESERVED_KEYS = (
        "too_many_reserved_keys",
        429,
        _(
            "待支付订单最多占用 %(limit)s 件商品,你已占用 %(held)s 件:请先付款,"
            "或等最早的一笔在 %(wait)s 分钟内过期后再下单"
        ),
    )
