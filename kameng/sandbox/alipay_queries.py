"""The sandbox's Alipay trade query, close and refund query, written from Alipay's pages (not from our adapter):

* alipay.trade.query (统一收单线下交易查询) — https://opendocs.alipay.com/open/02e7gm,
  https://docs.open.alipay.com/api_1/alipay.trade.query: trade_status is WAIT_BUYER_PAY (created, waiting),
  TRADE_CLOSED (closed unpaid, or paid then refunded in full), TRADE_SUCCESS (paid, refundable) or TRADE_FINISHED;
  trade_no is not returned before a real trade exists; an unknown trade is ACQ.TRADE_NOT_EXIST.
* alipay.trade.close (统一收单交易关闭接口) — https://docs.open.alipay.com/api_1/alipay.trade.close: closes a
  trade waiting for the buyer, answering trade_no and out_trade_no; a trade in any other state is
  ACQ.TRADE_STATUS_ERROR (交易状态不合法), one that was never created ACQ.TRADE_NOT_EXIST.
* alipay.trade.fastpay.refund.query (统一收单交易退款查询) —
  https://docs.open.alipay.com/api_1/alipay.trade.fastpay.refund.query: code 10000 only says the query worked; the
  refund was made when the answer carries it (out_request_no, refund_amount, refund_status REFUND_SUCCESS), and
  was not when it does not.

Each is an `Api` of alipay_views (biz_content, parameters) → the answer's fields besides code and msg; refusals are
DomainErrors whose code the gateway prefixes with "ACQ.", as Alipay's acquiring APIs do.
"""

from django.db import transaction

from kameng.core import clock, locking
from kameng.core.audit import Source, log_action
from kameng.core.errors import DomainError
from kameng.core.money import yuan_str
from kameng.sandbox.error_codes import SandboxErrorCode
from kameng.sandbox.models import SandboxTrade

BUYER_LOGON_ID = "san***@sandbox.com"  # masked, as Alipay shows it
BUYER_USER_ID = "2088000000000003"  # the sandbox buyer of its notifications


def _trades(biz: dict):
    """Either number names the trade; Alipay takes trade_no first when both are given."""
    trade_no, out_trade_no = str(biz.get("trade_no") or ""), str(biz.get("out_trade_no") or "")
    if not trade_no and not out_trade_no:
        raise ValueError("out_trade_no or trade_no is required")
    trades = SandboxTrade.objects.filter(channel="alipay")
    return trades.filter(trade_no=trade_no) if trade_no else trades.filter(out_trade_no=out_trade_no)


def _refunded_fen(trade: SandboxTrade) -> int:
    return sum(r.amount_fen for r in trade.refunds.all())


def _trade_status(trade: SandboxTrade) -> str:
    if trade.status == SandboxTrade.Status.WAITING:
        return "WAIT_BUYER_PAY"
    if trade.status == SandboxTrade.Status.CLOSED or _refunded_fen(trade) >= trade.amount_fen:
        return "TRADE_CLOSED"  # closed unpaid, or paid and then refunded in full
    return "TRADE_SUCCESS"


def query_trade(biz: dict, params: dict[str, str]) -> dict:
    trade = _trades(biz).first()
    if trade is None:
        raise DomainError(SandboxErrorCode.TRADE_NOT_EXIST)
    answer = {
        "trade_no": trade.trade_no,
        "out_trade_no": trade.out_trade_no,
        "buyer_logon_id": BUYER_LOGON_ID,
        "trade_status": _trade_status(trade),
        "total_amount": yuan_str(trade.amount_fen),
    }
    if trade.paid_at is not None:
        answer |= {
            "buyer_pay_amount": yuan_str(trade.amount_fen),
            "receipt_amount": yuan_str(trade.amount_fen),
            "send_pay_date": clock.stamp(trade.paid_at),
            "buyer_user_id": BUYER_USER_ID,
        }
    return answer


def close_trade(biz: dict, params: dict[str, str]) -> dict:
    with transaction.atomic():
        trade = locking.lock_one(_trades(biz))
        if trade is None:
            raise DomainError(SandboxErrorCode.TRADE_NOT_EXIST)
        if trade.status != SandboxTrade.Status.WAITING:
            raise DomainError(SandboxErrorCode.TRADE_STATUS_ERROR)
        trade.status = SandboxTrade.Status.CLOSED
        trade.save(update_fields=["status"])
        log_action(
            action="sandbox.trade_closed",
            obj=trade,
            source=Source.SANDBOX,
            data={"out_trade_no": trade.out_trade_no},
        )
    return {"trade_no": trade.trade_no, "out_trade_no": trade.out_trade_no}


def query_refund(biz: dict, params: dict[str, str]) -> dict:
    out_request_no = str(biz["out_request_no"])
    trade = _trades(biz).first()
    if trade is None:
        raise DomainError(SandboxErrorCode.TRADE_NOT_EXIST)
    answer = {"trade_no": trade.trade_no, "out_trade_no": trade.out_trade_no}
    refund = trade.refunds.filter(out_refund_no=out_request_no).first()
    if refund is None:
        return answer  # 10000 without the refund's fields: no such refund was made
    return answer | {
        "out_request_no": refund.out_refund_no,
        "total_amount": yuan_str(trade.amount_fen),
        "refund_amount": yuan_str(refund.amount_fen),
        "refund_status": "REFUND_SUCCESS",
        "gmt_refund_pay": clock.stamp(refund.created_at),
    }
