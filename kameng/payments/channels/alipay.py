"""Alipay adapter: classic gateway, RSA2. Pays by alipay.trade.wap.pay (手机网站支付) or, on a desktop, by the QR
code of alipay.trade.precreate (当面付, when the account has it); refunds by alipay.trade.refund. Auto-renew by
周期扣款: the first period is paid and the agreement signed in one step (支付并签约: alipay.trade.wap.pay with
agreement_sign_params), every renewal is alipay.trade.pay with agreement_params (CYCLE_PAY_AUTH) inside the window
Alipay allows before each planned date (docs/channels.md#alipay)."""

import json
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import urlencode

from kameng.core import clock
from kameng.core.http import TransportError, post
from kameng.core.money import parse_yuan, yuan_str
from kameng.payments.channels.alipay_queries import AlipayQueries, about_ours
from kameng.payments.channels.base import (
    AgreementState,
    AgreementTerms,
    ChannelEvent,
    ChargeResult,
    EventKind,
    Outcome,
    RefundResult,
    Reply,
)
from kameng.payments.channels.config import AlipayConfig
from kameng.payments.channels.errors import ChannelProtocolError, SignatureError
from kameng.protocols import alipay as protocol

PAID_STATES = {"TRADE_SUCCESS", "TRADE_FINISHED"}
SIGN_SCENE = "INDUSTRY|DIGITAL_MEDIA"  # must not be DEFAULT|DEFAULT when external_agreement_no is passed

# alipay.trade.pay answers that say for certain the money was NOT taken and will not be under this out_trade_no:
# the buyer's funds or limits, the agreement, or a trade already closed. From the error-code tables of
# alipay.trade.pay (opendocs.alipay.com, 商家扣款/周期扣款 > 统一收单交易支付接口; Alipay's own 当面付 error-code
# table, https://open.alitrip.com/docs/doc.htm?articleId=104632&docType=1&treeId=140). Every other answer,
# 10003 (waiting), 20000 (服务不可用), ACQ.SYSTEM_ERROR ("call the inquiry API ASAP"), a code we do not know, and
# no answer at all, is "unknown": the trade is asked about later (alipay.trade.query) and never counted failed.
DEFINITE_REFUSALS = frozenset(
    {
        "ACQ.BUYER_BALANCE_NOT_ENOUGH",
        "ACQ.BUYER_BANKCARD_BALANCE_NOT_ENOUGH",
        "ACQ.BUYER_ENABLE_STATUS_FORBID",
        "ACQ.BUYER_PAYMENT_AMOUNT_DAY_LIMIT_ERROR",
        "ACQ.BUYER_PAYMENT_AMOUNT_MONTH_LIMIT_ERROR",
        "ACQ.ERROR_BALANCE_PAYMENT_DISABLE",
        "ACQ.PAYMENT_FAIL",
        "ACQ.PAYMENT_REQUEST_HAS_RISK",
        "ACQ.NO_PAYMENT_INSTRUMENTS_AVAILABLE",
        "ACQ.AGREEMENT_NOT_EXIST",
        "ACQ.AGREEMENT_INVALID",
        "ACQ.AGREEMENT_STATUS_NOT_NORMAL",
        "ACQ.AGREEMENT_ERROR",
        "ACQ.CYCLE_PAY_DATE_NOT_MATCH",
        # The caps signed in period_rule_params, under both spellings Alipay's answers have used
        # (https://developer.aliyun.com/ask/285590 and /285588-285589: without the _LIMIT suffix).
        "ACQ.CYCLE_PAY_SINGLE_FEE_EXCEED",
        "ACQ.CYCLE_PAY_SINGLE_FEE_EXCEED_LIMIT",
        "ACQ.CYCLE_PAY_TOTAL_FEE_EXCEED",
        "ACQ.CYCLE_PAY_TOTAL_FEE_EXCEED_LIMIT",
        "ACQ.CYCLE_PAY_TOTAL_TIMES_EXCEED",
        "ACQ.CYCLE_PAY_TOTAL_TIMES_EXCEED_LIMIT",
        "ACQ.TRADE_HAS_CLOSE",
        "ACQ.TOTAL_FEE_EXCEED",
        "ACQ.BEYOND_PAY_RESTRICTION",
        "ACQ.BEYOND_PER_RECEIPT_RESTRICTION",
    }
)


def _biz(content: dict) -> str:
    return json.dumps(content, ensure_ascii=False, separators=(",", ":"))


def _time_expire(expires_at: datetime | None) -> dict[str, str]:
    """time_expire, the trade's absolute expiry in Beijing time, "yyyy-MM-dd HH:mm:ss" (alipay.trade.wap.pay,
    https://docs.open.alipay.com/api_1/alipay.trade.wap.pay): after it Alipay will not take the payment, so a
    cashier page left open cannot pay an order the shop has let expire."""
    if expires_at is None:
        return {}
    return {"time_expire": clock.stamp(expires_at)}


def _timeout_express(expires_at: datetime | None) -> dict[str, str]:
    """timeout_express for alipay.trade.precreate, whose page lists no time_expire
    (https://docs.open.alipay.com/api_1/alipay.trade.precreate): whole minutes from now, the trade being created
    by this very call, rounded down so that it never outlives the order; at least Alipay's minimum, 1m."""
    if expires_at is None:
        return {}
    minutes = int((expires_at - clock.now()).total_seconds() // 60)
    return {"timeout_express": f"{max(minutes, 1)}m"}


def _period_rule(terms: AgreementTerms) -> dict:
    """period_rule_params: the renewal schedule the member signs. execute_time is the first renewal's planned date
    (membership computes it with a day of month 1..28: Alipay refuses a later day with period_type MONTH); Alipay
    then allows each deduction from 5 days before a planned date up to it."""
    if terms.first_charge_date.day > 28:
        raise ValueError("period_type MONTH needs an execute day of 1..28")
    return {
        "period_type": "MONTH",
        "period": terms.period_months,
        "execute_time": terms.first_charge_date.isoformat(),
        "single_amount": yuan_str(terms.single_amount_fen),
    }


class AlipayChannel(AlipayQueries):
    name = "alipay"
    pays_first_period_at_signing = True  # 支付并签约: the sign link pays the first order

    def __init__(self, config: AlipayConfig):
        self.config = config

    def _common(self, method: str) -> dict[str, str]:
        return {
            "app_id": self.config.app_id,
            "method": method,
            "format": "JSON",
            "charset": "utf-8",
            "sign_type": "RSA2",
            "timestamp": clock.stamp(clock.now()),
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
        expires_at: datetime | None = None,
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
                    **_time_expire(expires_at),
                }
            ),
        }
        signed = protocol.sign_request(params, self.config.app_private_key_pem)
        return f"{self.config.gateway_url}?{urlencode(signed)}"

    def parse_notification(self, *, headers: Mapping[str, str], body: bytes, now_ts: int) -> ChannelEvent:
        try:
            params = protocol.parse_form(body)  # in the notification's own charset (utf-8 or GBK)
        except ValueError:
            raise ChannelProtocolError("not a form body in a charset Alipay uses") from None
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
        about_ours(
            answer,
            method,
            required=("out_trade_no",),
            out_trade_no=out_trade_no,
            trade_no=channel_trade_no,
            out_request_no=out_refund_no,
        )
        if answer.get("code") == "10000":
            # 10000 only says the call worked: the money moved when fund_change is Y. N (or nothing) is also the
            # answer to a repeat of a refund already made, so it is not a refusal either: PENDING, and the refund
            # query (alipay.trade.fastpay.refund.query) confirms it (https://docs.open.alipay.com/api_1/alipay.trade.refund,
            # fund_change: 本次退款是否发生了资金变化).
            if answer.get("fund_change") == "Y":
                return RefundResult(Outcome.SUCCEEDED, channel_refund_no=answer.get("trade_no", ""))
            return RefundResult(
                Outcome.PENDING,
                channel_refund_no=answer.get("trade_no", ""),
                message=f"fund_change {answer.get('fund_change') or 'missing'}",
            )
        return RefundResult(
            Outcome.FAILED, message=f"{answer.get('sub_code', '')} {answer.get('sub_msg', '')}".strip()
        )

    def agreement_sign_url(self, *, terms: AgreementTerms, notify_url: str, return_url: str) -> str:
        """支付并签约 when the terms carry the first order (always, from membership): alipay.trade.wap.pay with
        agreement_sign_params, so the member pays the first period and signs in one step; the trade notification
        pays the order and dut_user_sign (to sign_notify_url) activates the agreement. Without a first order, the
        sign-only page (alipay.user.agreement.page.sign)."""
        sign = {
            "personal_product_code": "CYCLE_PAY_AUTH_P",
            "sign_scene": SIGN_SCENE,
            "external_agreement_no": terms.external_no,
            "external_logon_id": terms.account_label,
            "access_params": {"channel": "ALIPAYAPP"},
            "period_rule_params": _period_rule(terms),
        }
        if terms.first_order_no:
            method = "alipay.trade.wap.pay"
            biz = {
                "out_trade_no": terms.first_order_no,
                "total_amount": yuan_str(terms.first_amount_fen),
                "subject": terms.first_subject[:256],
                "product_code": "CYCLE_PAY_AUTH",
                **_time_expire(terms.first_expires_at),
                "agreement_sign_params": sign | {"sign_notify_url": notify_url},
            }
        else:
            method = "alipay.user.agreement.page.sign"
            biz = {"product_code": "CYCLE_PAY_AUTH", **sign}
        params = self._common(method) | {
            "notify_url": notify_url,
            "return_url": return_url,
            "biz_content": _biz(biz),
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
        about_ours(answer, "alipay.trade.pay", required=("out_trade_no",), out_trade_no=out_trade_no)
        code, sub_code = answer.get("code"), answer.get("sub_code", "")
        message = f"{sub_code} {answer.get('sub_msg', '')}".strip()
        if code == "10000" and answer.get("trade_status", "TRADE_SUCCESS") in PAID_STATES:
            if answer.get("total_amount") != yuan_str(amount_fen) or not answer.get("trade_no"):
                raise ChannelProtocolError("alipay.trade.pay answered another amount or no trade_no")
            return ChargeResult(Outcome.SUCCEEDED, channel_trade_no=answer["trade_no"])
        if code == "40004" and sub_code in DEFINITE_REFUSALS:
            return ChargeResult(Outcome.FAILED, message=message)
        # 10003 (the buyer is still paying), 10000 without a paid status, 20000, ACQ.SYSTEM_ERROR, anything else:
        # not known to be paid nor refused. Asked again later (alipay.trade.query), never charged twice.
        return ChargeResult(
            Outcome.PENDING, channel_trade_no=answer.get("trade_no", ""), message=message or str(code)
        )

    def announce_charge(self, *, channel_agreement_no: str, amount_fen: int) -> bool:
        return True  # Alipay has no pre-deduction notice: the signed period_rule_params are the announcement

    def qr_code(
        self,
        *,
        order_no: str,
        amount_fen: int,
        subject: str,
        notify_url: str,
        client_ip: str,
        expires_at: datetime | None = None,
    ) -> str:
        """当面付 alipay.trade.precreate: the qr_code text a desktop buyer scans with the Alipay app. Only for an
        account that has the product (KAMENG_ALIPAY_PRODUCTS); LookupError otherwise. Raises TransportError /
        ChannelProtocolError when Alipay does not hand out a code."""
        if "precreate" not in self.config.products:
            raise LookupError("this Alipay account has no 当面付 (alipay.trade.precreate)")
        method = "alipay.trade.precreate"
        answer = self.call(
            method,
            {
                "out_trade_no": order_no,
                "total_amount": yuan_str(amount_fen),
                "subject": subject[:256],
                "product_code": "FACE_TO_FACE_PAYMENT",
                **_timeout_express(expires_at),
            },
            notify_url=notify_url,
        )
        about_ours(answer, method, required=("out_trade_no",), out_trade_no=order_no)
        if answer.get("code") != "10000" or not answer.get("qr_code"):
            raise ChannelProtocolError(f"{method}: {answer.get('sub_code') or answer.get('code')}")
        return answer["qr_code"]

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
        about_ours(
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
