"""订单 in the console: one order with its payments and refunds, and 查询渠道状态 for the order's trade and for each
refund: the channel is asked now, its answer applied as the query sweep would (kameng.payments.queries) and shown
to the staff member in their language. Follows the agreements page's button (console.views.query_agreement)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from kameng.console.views import _staff_only
from kameng.orders.models import Order
from kameng.payments import queries
from kameng.payments.channels.base import Outcome, TradeState
from kameng.payments.models import Payment, Refund

Applied = queries.Applied


def _order(order_no: str) -> Order:
    order = Order.objects.select_related("user", "product").filter(order_no=order_no).first()
    if order is None:
        raise Http404
    return order


@login_required
@require_safe
def order(request, order_no: str):
    """The order, its payments and refunds, and what the channel last said about each."""
    _staff_only(request)
    found = _order(order_no)
    checks = {q.kind if q.refund_id is None else q.refund_id: q for q in queries.queries_of(found)}
    refunds = list(Refund.objects.filter(payment__order=found).order_by("created_at", "id"))
    trade_check = checks.get("trade")
    return render(
        request,
        "console/order.html",
        {
            "order": found,
            "payments": Payment.objects.filter(order=found).order_by("paid_at", "id"),
            "refunds": [
                (refund, checks.get(refund.pk), _state_label(checks.get(refund.pk))) for refund in refunds
            ],
            "trade_check": trade_check,
            "trade_state": _state_label(trade_check),
        },
    )


def _state_label(check) -> str:
    """What the channel last said (a TradeState or a refund's Outcome), in the staff member's language."""
    if check is None or not check.last_state:
        return "—"
    return {
        TradeState.PAID: _("已支付"),
        TradeState.WAITING: _("等待买家付款"),
        TradeState.CLOSED: _("交易已关闭"),
        TradeState.NOT_FOUND: _("无此交易"),
        Outcome.SUCCEEDED: _("已退款"),
        Outcome.FAILED: _("退款失败"),
        Outcome.PENDING: _("处理中"),
    }.get(check.last_state, _("暂无答复"))


def _trade_said(answer: queries.Answer) -> str:
    return {
        TradeState.PAID: _("渠道答复“已支付”。"),
        TradeState.WAITING: _("渠道答复“等待买家付款”。"),
        TradeState.CLOSED: _("渠道答复“交易已关闭”。"),
        TradeState.NOT_FOUND: _("渠道答复“无此交易”(买家未在收银台付款)。"),
    }.get(answer.state, _("渠道暂时无法答复。"))


def _trade_done(answer: queries.Answer) -> str:
    return {
        Applied.PAYMENT_RECORDED: _("已按渠道答复记录这笔支付并处理订单。"),
        Applied.PAYMENT_REJECTED: _("但与订单不符(%(detail)s),未计入,请核对。") % {"detail": answer.detail},
        Applied.CHARGE_REFUSED: _("已按扣款失败处理。"),
        Applied.TRADE_CLOSED: _("订单已过期,已在渠道关闭交易,此后无法再付款。"),
    }.get(answer.applied, _("未做任何更改。"))


@login_required
@require_POST
def query_order(request, order_no: str):
    """查询渠道状态 for the order's trade: one service call, audit-logged with who asked and what the channel said."""
    _staff_only(request)
    found = _order(order_no)
    answer = queries.query_order(order=found, actor=request.user)
    text = _("订单 %(no)s:") % {"no": found.order_no} + _trade_said(answer) + _trade_done(answer)
    if answer.message:
        text += " " + _("(渠道原文:%(said)s)") % {"said": answer.message}
    level = messages.warning if answer.state == TradeState.UNKNOWN or answer.detail else messages.info
    level(request, text)
    return redirect("console:order", found.order_no)


@login_required
@require_POST
def query_refund(request, refund_no: str):
    """查询渠道状态 for one refund: a refund the channel says was made is confirmed here, once."""
    _staff_only(request)
    refund = Refund.objects.select_related("payment__order").filter(refund_no=refund_no).first()
    if refund is None:
        raise Http404
    answer = queries.query_refund(refund=refund, actor=request.user)
    said = {
        Outcome.SUCCEEDED: _("渠道答复“退款成功”。"),
        Outcome.FAILED: _("渠道答复“无此退款”:退款任务会按原退款单号再次发起。"),
    }.get(answer.state, _("渠道暂未确认这笔退款。"))
    done = _("已确认退款。") if answer.applied == Applied.REFUND_CONFIRMED else _("未做任何更改。")
    text = _("退款 %(no)s:") % {"no": refund.refund_no} + said + done
    (messages.info if answer.state != Outcome.PENDING else messages.warning)(request, text)
    return redirect("console:order", refund.payment.order.order_no)
