"""Alipay's active queries (docs/channels.md, Active queries): alipay.trade.query, alipay.trade.close and
alipay.trade.fastpay.refund.query, for the query sweep and the console's 查询渠道状态. A mixin of `AlipayChannel`,
which makes the calls (`call`: signed request, verified answer)."""

from collections.abc import Callable

from kameng.core.money import parse_yuan
from kameng.payments.channels.base import Outcome, RefundResult, TradeState, TradeStatus
from kameng.payments.channels.errors import ChannelProtocolError

# alipay.trade.query's trade_status (https://opendocs.alipay.com/open/02e7gm): TRADE_CLOSED is an unpaid trade
# closed, or a paid one refunded in full (we only ask about trades we hold no payment for).
TRADE_STATES = {
    "TRADE_SUCCESS": TradeState.PAID,
    "TRADE_FINISHED": TradeState.PAID,
    "WAIT_BUYER_PAY": TradeState.WAITING,
    "TRADE_CLOSED": TradeState.CLOSED,
}
# Answers that say the call was carried out (10000) or accepted and waiting for the buyer (10003).
DONE_CODES = ("10000", "10003")


def about_ours(answer: dict, method: str, *, required: tuple[str, ...] = (), **asked: str) -> dict:
    """Refuses a verified answer about something we did not ask about. A signature proves Alipay said it, not that
    it said it about this call: a genuine answer about another order, replayed, must not settle this one. Each
    `asked` field the answer carries must be ours; the `required` ones must be there when the call was carried
    out. Fields we do not know (empty) are not compared."""
    done = answer.get("code") in DONE_CODES
    for field, ours in asked.items():
        if not ours or (field not in answer and not (done and field in required)):
            continue
        if answer.get(field) != ours:
            raise ChannelProtocolError(f"{method} answered about another {field}: {answer.get(field)!r}")
    return answer


class AlipayQueries:
    call: Callable[..., dict]  # AlipayChannel.call: one gateway call, its answer verified

    def query_trade(self, *, out_trade_no: str, agreement_charge: bool = False) -> TradeStatus:
        """alipay.trade.query (https://opendocs.alipay.com/open/02e7gm): the same call for a cashier trade and a
        周期扣款 charge (alipay.trade.pay), both named by our out_trade_no."""
        method = "alipay.trade.query"
        answer = self.call(method, {"out_trade_no": out_trade_no})
        about_ours(answer, method, required=("out_trade_no",), out_trade_no=out_trade_no)
        said = (
            f"{answer.get('sub_code') or answer.get('trade_status', '')} {answer.get('sub_msg', '')}".strip()
        )
        if answer.get("code") != "10000":
            if answer.get("sub_code") == "ACQ.TRADE_NOT_EXIST":  # the buyer never got as far as paying
                return TradeStatus(TradeState.NOT_FOUND, message=said)
            return TradeStatus(TradeState.UNKNOWN, message=said)  # ACQ.SYSTEM_ERROR and the like: ask again
        state = TRADE_STATES.get(answer.get("trade_status", ""), TradeState.UNKNOWN)
        if state != TradeState.PAID:
            return TradeStatus(state, channel_trade_no=answer.get("trade_no", ""), message=said)
        try:
            amount_fen = parse_yuan(answer.get("total_amount", ""))
        except ValueError:
            raise ChannelProtocolError(f"{method} answered a bad total_amount") from None
        if not answer.get("trade_no"):
            raise ChannelProtocolError(f"{method} answered a paid trade without trade_no")
        return TradeStatus(state, channel_trade_no=answer["trade_no"], amount_fen=amount_fen, message=said)

    def close_trade(self, *, out_trade_no: str, agreement_charge: bool = False) -> bool:
        """alipay.trade.close (https://docs.open.alipay.com/api_1/alipay.trade.close): only a trade waiting for the
        buyer can be closed. ACQ.TRADE_NOT_EXIST: not created yet, nothing to close (True); a cashier link still
        open could create it until the time_expire it carries, so the sweep keeps asking until then
        (queries.NOT_FOUND_FINAL_AFTER). ACQ.TRADE_STATUS_ERROR: already paid or closed, which only a query tells
        apart: False."""
        method = "alipay.trade.close"
        answer = self.call(method, {"out_trade_no": out_trade_no})
        about_ours(answer, method, required=("out_trade_no",), out_trade_no=out_trade_no)
        return answer.get("code") == "10000" or answer.get("sub_code") == "ACQ.TRADE_NOT_EXIST"

    def query_refund(self, *, out_trade_no: str, out_refund_no: str) -> RefundResult:
        """alipay.trade.fastpay.refund.query (https://docs.open.alipay.com/api_1/alipay.trade.fastpay.refund.query):
        code 10000 only says the query worked. The refund was made when the answer carries it (out_request_no and
        refund_amount; refund_status, when present, REFUND_SUCCESS); without them it was not (refund again under
        the same number)."""
        method = "alipay.trade.fastpay.refund.query"
        answer = self.call(method, {"out_trade_no": out_trade_no, "out_request_no": out_refund_no})
        about_ours(
            answer,
            method,
            required=("out_trade_no",),
            out_trade_no=out_trade_no,
            out_request_no=out_refund_no,
        )
        said = f"{answer.get('sub_code', '')} {answer.get('sub_msg', '')}".strip()
        if answer.get("code") != "10000":
            return RefundResult(Outcome.PENDING, message=said or "refund query not answered")
        if not answer.get("out_request_no") or not answer.get("refund_amount"):
            return RefundResult(Outcome.FAILED, message="no such refund at the channel")
        if answer.get("refund_status", "REFUND_SUCCESS") != "REFUND_SUCCESS":
            return RefundResult(Outcome.PENDING, message=answer["refund_status"])
        try:
            amount_fen = parse_yuan(answer["refund_amount"])
        except ValueError:
            raise ChannelProtocolError(f"{method} answered a bad refund_amount") from None
        return RefundResult(
            Outcome.SUCCEEDED, channel_refund_no=answer.get("trade_no", ""), amount_fen=amount_fen
        )
