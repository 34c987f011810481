from django.utils.translation import gettext_lazy as _

from kameng.core.errors import ErrorCode


class OrderErrorCode(ErrorCode):
    UNKNOWN_ORDER = "unknown_order", 404, _("订单不存在")
    UNKNOWN_CHANNEL = "unknown_channel", 422, _("不支持的支付渠道 %(channel)s,可选:%(choices)s")
    BAD_QUANTITY = "bad_quantity", 422, _("数量须为 1 到 %(limit)s 之间的整数")
    EMPTY_NOTE = "empty_note", 422, _("请写明发了什么货")
    BAD_STATE = "bad_state", 409, _("订单状态为“%(status)s”,不在待发货状态")
