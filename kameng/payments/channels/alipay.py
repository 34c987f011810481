"""Alipay adapter: classic gateway, RSA2. Pays by alipay.trade.wap.pay, refunds by alipay.trade.refund; auto-renew
by 周期扣款: alipay.user.agreement.page.sign, then alipay.trade.pay with agreement_params (CYCLE_PAY_AUTH)."""

import json
from collections.abc import Mapping
from urllib.parse import parse_qsl, urlencode

from kameng.core import clock
from kameng.core.http import TransportError, post
from kameng.core.money import parse_yuan, yuan_str
from kameng.payments.channels.base import (
    AgreementState,
    AgreementTerms,
    ChannelEvent,
    ChargeResult,
    EventKind,
    Outcome,
    RefundResult,
    Reply,
    TradeState,
    TradeStatus,
)
from kameng.payments.channels.config import AlipayConfig
from kameng.payments.channels.errors import ChannelProtocolError, SignatureError
from kameng.protocols import alipay as protocol

PAID_STATES = {"TRADE_SUCCESS", "TRADE_FINISHED"}
# alipay.trade.query's trade_status (https://opendocs.alipay.com/open/02e7gm): TRADE_CLOSED is an unpaid trade
# closed, or a paid one refunded in full (we only ask about trades we hold no payment for).
TRADE_STATES = {
    "TRADE_SUCCESS": TradeState.PAID,
    "TRADE_FINISHED": TradeState.PAID,
    "WAIT_BUYER_PAY": TradeState.WAITING,
    "TRADE_CLOSED": TradeState.CLOSED,
}
SIGN_SCENE = "INDUSTRY|DIGITAL_MEDIA"  # must not be DEFAULT|DEFAULT when external_agreement_no is passed


def _biz(content: dict) -> str:
    return json.dumps(content, ensure_ascii=False, separators=(",", ":"))


# Answers that say the call was carried out (10000) or accepted and waiting for the buyer (10003).
DONE_CODES = ("10000", "10003")


def _about_ours(answer: dict, method: str, *, required: tuple[str, ...] = (), **asked: str) -> dict:
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


class AlipayChannel:
    name = "alipay"

    def __init__(self, config: AlipayConfig):
        self.config = config

    def _common(self, method: str) -> dict[str, str]:
        return {
            "app_id": self.config.app_id,
            "method": method,
            "format": "JSON",
            "charset": "utf-8",
            "sign_type": "RSA2",
            "timestamp": clock.now().strftime("%Y-%m-%d %H:%M:%S"),
            "version": "1.0",
        }

    def pay_redirect_url(
        self,
        *,
        order_no: str,
        amount_fen: int,
        subject: str,
        notify_url: str,
        return_url: str,
        client_ip: str,
    ) -> str:
        params = self._common("alipay.trade.wap.pay") | {
            "notify_url": notify_url,
            "return_url": return_url,
            "biz_content": _biz(
                {
                    "out_trade_no": order_no,
                    "total_amount": yuan_str(amount_fen),
                    "subject": subject[:256],
                    "product_code": "QUICK_WAP_WAY",
                }
            ),
        }
        signed = protocol.sign_request(params, self.config.app_private_key_pem)
        return f"{self.config.gateway_url}?{urlencode(signed)}"

    def parse_notification(self, *, headers: Mapping[str, str], body: bytes, now_ts: int) -> ChannelEvent:
        try:
            params = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True))
        except (UnicodeDecodeError, ValueError):
            raise ChannelProtocolError("not a UTF-8 form body") from None
        if not params.get("sign"):
            raise SignatureError("unsigned")
        if not protocol.verify_notification(params, self.config.alipay_public_key_pem):
            raise SignatureError("bad signature")
        if params.get("app_id") != self.config.app_id:
            raise ChannelProtocolError("notification for another app")
        notify_id = params.get("notify_id", "")
        if not notify_id:
            raise ChannelProtocolError("no notify_id")
        notify_type = params.get("notify_type")
        if notify_type in ("dut_user_sign", "dut_user_unsign"):
            return self._agreement_event(params, notify_id)
        if notify_type != "trade_status_sync" or params.get("trade_status") not in PAID_STATES:
            return ChannelEvent(kind=EventKind.IGNORED, dedupe_key=notify_id)
        try:
            amount_fen = parse_yuan(params.get("total_amount", ""))
        except ValueError:
            raise ChannelProtocolError("bad total_amount") from None
        return ChannelEvent(
            kind=EventKind.PAYMENT,
            dedupe_key=notify_id,
            out_trade_no=params.get("out_trade_no", ""),
            channel_trade_no=params.get("trade_no", ""),
            amount_fen=amount_fen,
        )

    @staticmethod
    def _agreement_event(params: dict[str, str], notify_id: str) -> ChannelEvent:
        status = params.get("status", "")
        if params["notify_type"] == "dut_user_sign" and status == "NORMAL":
            kind = EventKind.AGREEMENT_SIGNED
        elif params["notify_type"] == "dut_user_unsign" and status == "UNSIGN":
            kind = EventKind.AGREEMENT_TERMINATED
        else:
            return ChannelEvent(kind=EventKind.IGNORED, dedupe_key=notify_id)
        if not params.get("agreement_no"):
            raise ChannelProtocolError("no agreement_no")
        return ChannelEvent(
            kind=kind,
            dedupe_key=notify_id,
            external_agreement_no=params.get("external_agreement_no", ""),
            channel_agreement_no=params["agreement_no"],
        )

    def ack(self) -> Reply:
        return Reply(200, "text/plain", b"success")

    def nack(self, reason: str) -> Reply:
        # Anything but "success" makes Alipay deliver again later.
        return Reply(400, "text/plain", b"failure")

    def call(self, method: str, biz_content: dict, *, notify_url: str = "") -> dict:
        """A server API call through the gateway; the signed synchronous response is verified before use."""
        params = self._common(method) | {"biz_content": _biz(biz_content)}
        if notify_url:
            params["notify_url"] = notify_url
        signed = protocol.sign_request(params, self.config.app_private_key_pem)
        reply = post(
            self.config.gateway_url,
            body=urlencode(signed).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"},
        )
        if reply.status != 200:
            raise TransportError(f"alipay gateway answered HTTP {reply.status}")
        return protocol.verify_response(reply.body.decode("utf-8"), method, self.config.alipay_public_key_pem)

    def refund(
        self,
        *,
        out_trade_no: str,
        out_refund_no: str,
        refund_fen: int,
        total_fen: int,
        reason: str,
        channel_trade_no: str = "",
    ) -> RefundResult:
        method = "alipay.trade.refund"
        answer = self.call(
            method,
            {
                "out_trade_no": out_trade_no,
                "refund_amount": yuan_str(refund_fen),
                "out_request_no": out_refund_no,
                "refund_reason": reason[:256],
            },
        )
        # Alipay's refund answer names the trade (out_trade_no, trade_no); out_request_no only if it says it.
        _about_ours(
            answer,
            method,
            required=("out_trade_no",),
            out_trade_no=out_trade_no,
            trade_no=channel_trade_no,
            out_request_no=out_refund_no,
        )
        if answer.get("code") == "10000":
            return RefundResult(Outcome.SUCCEEDED, channel_refund_no=answer.get("trade_no", ""))
        return RefundResult(
            Outcome.FAILED, message=f"{answer.get('sub_code', '')} {answer.get('sub_msg', '')}".strip()
        )

    def agreement_sign_url(self, *, terms: AgreementTerms, notify_url: str, return_url: str) -> str:
        # With period_type MONTH the execute day must be 1..28; Alipay then allows charging in the 5 days before.
        execute = terms.first_charge_date.replace(day=min(terms.first_charge_date.day, 28))
        params = self._common("alipay.user.agreement.page.sign") | {
            "notify_url": notify_url,
            "return_url": return_url,
            "biz_content": _biz(
                {
                    "personal_product_code": "CYCLE_PAY_AUTH_P",
                    "product_code": "CYCLE_PAY_AUTH",
                    "sign_scene": SIGN_SCENE,
                    "external_agreement_no": terms.external_no,
                    "external_logon_id": terms.account_label,
                    "access_params": {"channel": "ALIPAYAPP"},
                    "period_rule_params": {
                        "period_type": "MONTH",
                        "period": terms.period_months,
                        "execute_time": execute.isoformat(),
                        "single_amount": yuan_str(terms.single_amount_fen),
                    },
                }
            ),
        }
        signed = protocol.sign_request(params, self.config.app_private_key_pem)
        return f"{self.config.gateway_url}?{urlencode(signed)}"

    def charge_agreement(
        self, *, channel_agreement_no: str, out_trade_no: str, amount_fen: int, subject: str, notify_url: str
    ) -> ChargeResult:
        answer = self.call(
            "alipay.trade.pay",
            {
                "out_trade_no": out_trade_no,
                "total_amount": yuan_str(amount_fen),
                "subject": subject[:256],
                "product_code": "CYCLE_PAY_AUTH",
                "agreement_params": {"agreement_no": channel_agreement_no},
            },
            notify_url=notify_url,
        )
        _about_ours(answer, "alipay.trade.pay", required=("out_trade_no",), out_trade_no=out_trade_no)
        if answer.get("code") == "10000":
            if answer.get("total_amount") != yuan_str(amount_fen) or not answer.get("trade_no"):
                raise ChannelProtocolError("alipay.trade.pay answered another amount or no trade_no")
            return ChargeResult(Outcome.SUCCEEDED, channel_trade_no=answer["trade_no"])
        if answer.get("code") == "10003":  # 等待用户付款: the result comes by notification
            return ChargeResult(Outcome.PENDING, channel_trade_no=answer.get("trade_no", ""))
        return ChargeResult(
            Outcome.FAILED, message=f"{answer.get('sub_code', '')} {answer.get('sub_msg', '')}".strip()
        )

    def unsign_agreement(self, *, channel_agreement_no: str, external_no: str, period_months: int) -> bool:
        answer = self.call(
            "alipay.user.agreement.unsign",
            {"agreement_no": channel_agreement_no, "personal_product_code": "CYCLE_PAY_AUTH_P"},
        )
        # Already unsigned at the channel counts as done: the member may have switched it off there first.
        return answer.get("code") == "10000" or answer.get("sub_code") == "USER_AGREEMENT_NOT_EXIST"

    def query_agreement(
        self, *, channel_agreement_no: str, external_no: str, period_months: int
    ) -> AgreementState:
        answer = self.call(
            "alipay.user.agreement.query",
            {"agreement_no": channel_agreement_no, "personal_product_code": "CYCLE_PAY_AUTH_P"},
        )
        _about_ours(
            answer,
            "alipay.user.agreement.query",
            required=("agreement_no",),
            agreement_no=channel_agreement_no,
            external_agreement_no=external_no,
        )
        if answer.get("code") != "10000":
            if answer.get("sub_code") == "USER_AGREEMENT_NOT_EXIST":
                return AgreementState.TERMINATED
            return AgreementState.UNKNOWN
        return AgreementState.ACTIVE if answer.get("status") == "NORMAL" else AgreementState.TERMINATED

    # --- issue 14: active queries (the query sweep and the console's 查询渠道状态) -----------------------------------

    def query_trade(self, *, out_trade_no: str, agreement_charge: bool = False) -> TradeStatus:
        """alipay.trade.query (https://opendocs.alipay.com/open/02e7gm): the same call for a cashier trade and a
        周期扣款 charge (alipay.trade.pay), both named by our out_trade_no."""
        method = "alipay.trade.query"
        answer = self.call(method, {"out_trade_no": out_trade_no})
        _about_ours(answer, method, required=("out_trade_no",), out_trade_no=out_trade_no)
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
        buyer can be closed. ACQ.TRADE_NOT_EXIST: never created, so nothing can be paid under it now (a cashier
        link still open creates it anew: the order's own expiry at the cashier and the late-payment rules cover
        that). ACQ.TRADE_STATUS_ERROR: already paid or closed, which only a query tells apart: False."""
        method = "alipay.trade.close"
        answer = self.call(method, {"out_trade_no": out_trade_no})
        _about_ours(answer, method, required=("out_trade_no",), out_trade_no=out_trade_no)
        return answer.get("code") == "10000" or answer.get("sub_code") == "ACQ.TRADE_NOT_EXIST"

    def query_refund(self, *, out_trade_no: str, out_refund_no: str) -> RefundResult:
        """alipay.trade.fastpay.refund.query (https://docs.open.alipay.com/api_1/alipay.trade.fastpay.refund.query):
        code 10000 only says the query worked. The refund was made when the answer carries it (out_request_no and
        refund_amount; refund_status, when present, REFUND_SUCCESS); without them it was not (refund again under
        the same number)."""
        method = "alipay.trade.fastpay.refund.query"
        answer = self.call(method, {"out_trade_no": out_trade_no, "out_request_no": out_refund_no})
        _about_ours(
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
        return RefundResult(Outcome.SUCCEEDED, channel_refund_no=answer.get("trade_no", ""))
