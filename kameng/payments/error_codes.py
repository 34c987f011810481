from django.utils.translation import gettext_lazy as _

from kameng.core.errors import ErrorCode


class PaymentErrorCode(ErrorCode):
    NOTHING_TO_PAY = "bad_state", 409, _("订单状态为“%(status)s”,无需支付")
    UNKNOWN_REFUND = "unknown_refund", 404, _("退款单 %(refund_no)s 不存在")
