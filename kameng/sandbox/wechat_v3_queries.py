"""The sandbox's WeChat Pay API v3 after the payment is made: order query (by out_trade_no and by transaction_id),
close, refund and refund query; checked and answered as wechat_views checks and answers every v3 call.

Pages: https://pay.weixin.qq.com/docs/merchant/apis/native-payment/query-by-out-trade-no.html,
…/query-by-wx-trade-no.html, …/close-order.html (公共错误码 and 业务错误码: 400 PARAM_ERROR, 401 SIGN_ERROR,
403 TRADE_ERROR, 404 ORDER_NOT_EXIST), …/create.html and …/query-by-out-refund-no.html (refunds).
"""

from typing import Literal

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe
from pydantic import Field

from kameng.core import clock
from kameng.core.errors import DomainError
from kameng.sandbox import keys, services
from kameng.sandbox.error_codes import SandboxErrorCode
from kameng.sandbox.models import SandboxRefund, SandboxTrade
from kameng.sandbox.wechat_views import _answer, _merchant_call, _merchant_matches, _parsed, _Strict

# --- querying and closing -----------------------------------------------------------------------------------------


def _trade_json(trade: SandboxTrade) -> dict:
    """The query answer's fields; transaction_id, payer and success_time once paid."""
    paid = trade.status == SandboxTrade.Status.PAID
    if paid:
        state, desc = ("REFUND", "转入退款") if trade.refunds.exists() else ("SUCCESS", "支付成功")
    elif trade.status == SandboxTrade.Status.CLOSED:
        state, desc = "CLOSED", "已关闭"
    else:
        state, desc = "NOTPAY", "未支付"
    answer = {
        "appid": keys.WECHAT_APPID,
        "mchid": keys.WECHAT_MCHID,
        "out_trade_no": trade.out_trade_no,
        "trade_type": trade.trade_type or "MWEB",
        "trade_state": state,
        "trade_state_desc": desc,
        "amount": {"total": trade.amount_fen, "currency": "CNY"},
    }
    if paid:
        answer.update(
            transaction_id=trade.trade_no,
            bank_type="OTHERS",
            success_time=clock.local(trade.paid_at).isoformat(timespec="seconds"),
            payer={"openid": "o-sandbox-buyer"},
            amount={**answer["amount"], "payer_total": trade.amount_fen, "payer_currency": "CNY"},
        )
    return answer


def _query_mchid(request: HttpRequest) -> None:
    if set(request.GET) != {"mchid"}:
        raise DomainError(SandboxErrorCode.PARAM_ERROR, detail="查询参数只有 mchid")
    _merchant_matches(None, request.GET["mchid"])


def _trade_or_404(**lookup) -> SandboxTrade:
    trade = SandboxTrade.objects.filter(channel="wechat", **lookup).first()
    if trade is None:
        raise DomainError(SandboxErrorCode.ORDER_NOT_EXIST)
    return trade


@require_safe
@_merchant_call
def wechat_query_by_out_trade_no(request, out_trade_no: str) -> HttpResponse:
    _query_mchid(request)
    return _answer(200, _trade_json(_trade_or_404(out_trade_no=out_trade_no)))


@require_safe
@_merchant_call
def wechat_query_by_id(request, transaction_id: str) -> HttpResponse:
    _query_mchid(request)
    # Only a paid trade has a transaction_id the merchant could know.
    return _answer(200, _trade_json(_trade_or_404(trade_no=transaction_id, status=SandboxTrade.Status.PAID)))


class _Close(_Strict):
    mchid: str


@csrf_exempt  # a server API, signed by the merchant: no cookie involved
@require_POST
@_merchant_call
def wechat_close(request, out_trade_no: str) -> HttpResponse:
    """204; closing a closed order again is 204 too; a paid one is refused."""
    _merchant_matches(None, _parsed(_Close, request.body).mchid)
    services.close_trade(trade=_trade_or_404(out_trade_no=out_trade_no))
    return _answer(204, {})


class _RefundAmount(_Strict):
    refund: int = Field(gt=0)
    total: int = Field(gt=0)
    currency: Literal["CNY"]
    from_: list | None = Field(default=None, alias="from")


class _Refund(_Strict):
    transaction_id: str | None = None
    out_trade_no: str | None = None
    out_refund_no: str = Field(max_length=64)
    reason: str | None = Field(default=None, max_length=80)
    notify_url: str | None = None
    funds_account: str | None = None
    amount: _RefundAmount
    goods_detail: list | None = None


# --- refunds ------------------------------------------------------------------------------------------------------


def _refund_json(made: SandboxRefund) -> dict:
    trade = made.trade
    return {
        "refund_id": made.refund_id,
        "out_refund_no": made.out_refund_no,
        "transaction_id": trade.trade_no,
        "out_trade_no": trade.out_trade_no,
        "channel": "ORIGINAL",
        "user_received_account": "支付用户零钱",
        "success_time": clock.local(made.created_at).isoformat(timespec="seconds"),
        "create_time": clock.local(made.created_at).isoformat(timespec="seconds"),
        "status": "SUCCESS",
        "funds_account": "AVAILABLE",
        "amount": {
            "total": trade.amount_fen,
            "refund": made.amount_fen,
            "from": [],
            "payer_total": trade.amount_fen,
            "payer_refund": made.amount_fen,
            "settlement_refund": made.amount_fen,
            "settlement_total": trade.amount_fen,
            "discount_refund": 0,
            "currency": "CNY",
        },
    }


@csrf_exempt  # a server API, signed by the merchant: no cookie involved
@require_POST
@_merchant_call
def wechat_refund(request) -> HttpResponse:
    asked = _parsed(_Refund, request.body)
    trade = None
    if asked.transaction_id:
        trade = _trade_or_404(trade_no=asked.transaction_id)
    elif asked.out_trade_no:
        trade = _trade_or_404(out_trade_no=asked.out_trade_no)
    else:
        raise DomainError(SandboxErrorCode.PARAM_ERROR, detail="transaction_id 与 out_trade_no 二选一")
    if asked.amount.total != trade.amount_fen:
        raise DomainError(SandboxErrorCode.PARAM_ERROR, detail="amount.total 与原订单金额不符")
    try:
        made = services.refund(
            channel="wechat",
            out_trade_no=trade.out_trade_no,
            out_refund_no=asked.out_refund_no,
            amount_fen=asked.amount.refund,
        )
    except DomainError as exc:
        if exc.code == SandboxErrorCode.TRADE_NOT_EXIST:
            raise DomainError(SandboxErrorCode.ORDER_NOT_EXIST) from None
        raise DomainError(SandboxErrorCode.TRADE_ERROR, detail=exc.message) from None
    return _answer(200, _refund_json(made))


@require_safe
@_merchant_call
def wechat_refund_query(request, out_refund_no: str) -> HttpResponse:
    if request.GET:
        raise DomainError(SandboxErrorCode.PARAM_ERROR, detail="直连商户不带查询参数")
    made = SandboxRefund.objects.filter(trade__channel="wechat", out_refund_no=out_refund_no).first()
    if made is None:
        raise DomainError(SandboxErrorCode.REFUND_NOT_EXISTS)
    return _answer(200, _refund_json(made))
