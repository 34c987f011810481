from django.utils.translation import gettext_lazy as _

from kameng.core.errors import ErrorCode


class PaymentErrorCode(ErrorCode):
    NOTHING_TO_PAY = "bad_state", 409, _("订单状态为“%(status)s”,无需支付")
    # An unpaid VIP-priced order closed by the member's immediate cancel (Order.closed_reason): say why, not "expired".
    ORDER_CLOSED = "order_closed", 409, _("此订单已在你退订会员、会员费退款时关闭,不会扣款,无需支付。")
    UNKNOWN_REFUND = "unknown_refund", 404, _("退款单 %(refund_no)s 不存在")
