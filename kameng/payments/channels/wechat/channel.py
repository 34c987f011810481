"""WeChat Pay for Kameng: H5 and Native payments and refunds on APIv3; auto-renew on 委托代扣 周期扣费 — H5 纯签约,
charges by `pay/pappayapply` (API v2) after a v3 预扣费通知 — as WeChat's guide documents it for a direct merchant
(docs/channels.md#wechat-pay)."""

from collections.abc import Mapping
from datetime import datetime
from urllib.parse import quote

from kameng.core import clock
from kameng.payments.channels.base import (
    AgreementState,
    AgreementTerms,
    ChannelEvent,
    ChargeResult,
    Outcome,
    RefundResult,
    Reply,
    TradeState,
    TradeStatus,
)
from kameng.payments.channels.config import WechatConfig
from kameng.payments.channels.errors import ChannelProtocolError, ChannelRefused
from kameng.payments.channels.wechat import notifications
from kameng.payments.channels.wechat.papay import PapayClient, PapayRefused, PapayUndecided, request_serial
from kameng.payments.channels.wechat.v3 import V3Client

# WeChat's trade states (v3 query, v2 查询订单 / paporderquery) in the shop's words (base.TradeState).
TRADE_STATES = {
    "SUCCESS": TradeState.PAID,
    "REFUND": TradeState.PAID,  # paid, then (partly) refunded
    "NOTPAY": TradeState.WAITING,
    "USERPAYING": TradeState.WAITING,
    "ACCEPT": TradeState.WAITING,  # papay: accepted, the charge runs
    "CLOSED": TradeState.CLOSED,
    "REVOKED": TradeState.CLOSED,
    "PAYERROR": TradeState.CLOSED,
    "PAY_FAIL": TradeState.CLOSED,  # papay: every way to pay failed, the order is closed (a new number to retry)
}
NOT_FOUND_CODES = frozenset({"ORDER_NOT_EXIST", "ORDERNOTEXIST"})
# querycontract's contract_state is 0 signed, 1 not signed, 9 signing (…/4011987640.md); the v3 names are read too,
# TO_BE_RENEWED among the signed (issue 14: a contract waiting for its renewal is still in force).
CONTRACT_STATES = {
    "0": AgreementState.ACTIVE,
    "SIGNED": AgreementState.ACTIVE,
    "TO_BE_RENEWED": AgreementState.ACTIVE,
    "1": AgreementState.TERMINATED,
    "TERMINATED": AgreementState.TERMINATED,
}
# deletecontract / querycontract refusals that mean the contract is no longer in force: an unsign is confirmed.
CONTRACT_GONE = frozenset({"CONTRACT_NOT_EXIST", "CONTRACT_TERMINATED"})
# 预扣费通知: the member is told, then C-4 and C-3 are the waiting period and C-2..C the chargeable days (3).
CHARGE_DAYS = 3


def bmp_text(text: str, limit: int) -> str:
    """WeChat v2 takes UTF-8 of 1-3 bytes per character only (no emoji: 开发参数与业务规则 s.3.1), `limit` chars."""
    return "".join(ch for ch in text if ord(ch) <= 0xFFFF)[:limit]


def papay_notify_url(notify_url: str) -> str:
    """Where 委托代扣's v2 notifications go: beside the channel's v3 notify URL (payments.urls: notify-papay)."""
    return notify_url.rstrip("/") + "/papay/"


class PapayNotifications:
    """The `/payments/notify/wechat/papay/` endpoint: v2 XML in, v2 XML out."""

    def __init__(self, config: WechatConfig):
        self.config = config

    def parse_notification(self, *, headers: Mapping[str, str], body: bytes, now_ts: int) -> ChannelEvent:
        return notifications.parse_papay(self.config, body=body)

    def ack(self) -> Reply:
        return notifications.papay_ack()

    def nack(self, reason: str) -> Reply:
        return notifications.papay_nack(reason)


class WechatChannel:
    name = "wechat"
    pays_first_period_at_signing = False  # 纯签约, then the first pappayapply within 12 h of signing

    def __init__(self, config: WechatConfig):
        self.config = config
        self.v3 = V3Client(config)
        self.papay = PapayClient(config)

    # --- notifications ------------------------------------------------------------------------------------------

    def parse_notification(self, *, headers: Mapping[str, str], body: bytes, now_ts: int) -> ChannelEvent:
        return notifications.parse_v3(self.config, headers=headers, body=body, now_ts=now_ts)

    def ack(self) -> Reply:
        return notifications.v3_ack()

    def nack(self, reason: str) -> Reply:
        return notifications.v3_nack(reason)

    def notification_endpoint(self, name: str) -> PapayNotifications:
        if name != "papay":
            raise LookupError(f"no WeChat notification endpoint {name!r}")
        return PapayNotifications(self.config)

    # --- payments (APIv3) ---------------------------------------------------------------------------------------

    def _order(
        self, order_no: str, amount_fen: int, subject: str, notify_url: str, expires_at: datetime | None
    ) -> dict:
        order = {
            "appid": self.config.appid,
            "mchid": self.config.mchid,
            "description": bmp_text(subject, 127),
            "out_trade_no": order_no,
            "notify_url": notify_url,
            "amount": {"total": amount_fen, "currency": "CNY"},
        }
        if expires_at is not None:
            # time_expire, RFC 3339 (yyyy-MM-DDTHH:mm:ss+08:00): WeChat takes no payment for the order after it
            # (https://pay.weixin.qq.com/doc/v3/merchant/4012791877), so it never outlives the shop's order.
            order["time_expire"] = clock.local(expires_at).isoformat(timespec="seconds")
        return order

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
        answer = self.v3.call(
            "POST",
            "/v3/pay/transactions/h5",
            {
                **self._order(order_no, amount_fen, subject, notify_url, expires_at),
                "scene_info": {"payer_client_ip": client_ip or "127.0.0.1", "h5_info": {"type": "Wap"}},
            },
        )
        if not answer.ok or not answer.body.get("h5_url"):
            raise ChannelRefused(answer.describe())
        return f"{answer.body['h5_url']}&redirect_url={quote(return_url, safe='')}"

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
        """Native pay (https://pay.weixin.qq.com/doc/v3/merchant/4012791877): the `code_url` a desktop buyer scans."""
        if not self.config.native_enabled:
            raise LookupError("this WeChat Pay account has no Native pay (KAMENG_WECHAT_NATIVE)")
        payload = self._order(order_no, amount_fen, subject, notify_url, expires_at)
        if client_ip:
            payload["scene_info"] = {"payer_client_ip": client_ip}
        answer = self.v3.call("POST", "/v3/pay/transactions/native", payload)
        # WeChat's code_url is weixin://wxpay/bizpayurl?pr=…; the sandbox's opens its scan page over http(s). The
        # answer is signed and verified: only its form is checked here.
        code_url = str(answer.body.get("code_url", ""))
        if not answer.ok or not code_url.startswith(("weixin://", "https://", "http://")):
            raise ChannelRefused(answer.describe())
        return answer.body["code_url"]

    def query_trade(self, *, out_trade_no: str, agreement_charge: bool = False) -> TradeStatus:
        if agreement_charge:
            return self._query_papay_trade(out_trade_no)
        answer = self.v3.call(
            "GET",
            f"/v3/pay/transactions/out-trade-no/{quote(out_trade_no, safe='')}?mchid={self.config.mchid}",
        )
        if not answer.ok:
            if answer.code in NOT_FOUND_CODES:
                return TradeStatus(TradeState.NOT_FOUND, message=answer.code)
            return TradeStatus(TradeState.UNKNOWN, message=answer.describe())
        body = answer.body
        if body.get("out_trade_no") != out_trade_no or body.get("mchid") != self.config.mchid:
            raise ChannelProtocolError(f"query answered about another trade: {body.get('out_trade_no')!r}")
        return self._status(
            body.get("trade_state", ""), body.get("transaction_id", ""), body.get("amount", {})
        )

    def _status(self, state: str, transaction_id: str, amount: Mapping) -> TradeStatus:
        mapped = TRADE_STATES.get(state, TradeState.UNKNOWN)
        if mapped != TradeState.PAID:
            return TradeStatus(mapped, channel_trade_no=transaction_id, message=state)
        total = amount.get("total")
        if not isinstance(total, int) or isinstance(total, bool) or not transaction_id:
            raise ChannelProtocolError("a paid trade without its amount or transaction_id")
        return TradeStatus(TradeState.PAID, channel_trade_no=transaction_id, amount_fen=total, message=state)

    def _query_papay_trade(self, out_trade_no: str) -> TradeStatus:
        # After a close, paporderquery no longer finds the order: the basic order query does (排障手册 s.2.5.2).
        for path in ("pay/paporderquery", "pay/orderquery"):
            try:
                answer = self.papay.call(path, {"out_trade_no": out_trade_no})
            except PapayRefused as exc:
                if exc.code in NOT_FOUND_CODES:
                    continue
                return TradeStatus(TradeState.UNKNOWN, message=str(exc))
            except PapayUndecided as exc:
                return TradeStatus(TradeState.UNKNOWN, message=exc.reason)
            if answer.get("out_trade_no") != out_trade_no:
                raise ChannelProtocolError(
                    f"query answered about another trade: {answer.get('out_trade_no')!r}"
                )
            total = answer.get("total_fee", "")
            return self._status(
                answer.get("trade_state", ""),
                answer.get("transaction_id", ""),
                {"total": int(total)} if total.isdigit() else {},
            )
        return TradeStatus(TradeState.NOT_FOUND, message="ORDERNOTEXIST")

    def close_trade(self, *, out_trade_no: str, agreement_charge: bool = False) -> bool:
        if agreement_charge:
            try:
                self.papay.call("pay/closeorder", {"out_trade_no": out_trade_no})
            except PapayRefused as exc:
                return exc.code in ("ORDERCLOSED", *NOT_FOUND_CODES)  # ORDERPAID: paid, not closed
            except PapayUndecided:
                return False
            return True
        answer = self.v3.call(
            "POST",
            f"/v3/pay/transactions/out-trade-no/{quote(out_trade_no, safe='')}/close",
            {"mchid": self.config.mchid},
        )
        return answer.ok or answer.code in ("ORDER_CLOSED", *NOT_FOUND_CODES)

    # --- refunds (APIv3) ----------------------------------------------------------------------------------------

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
        answer = self.v3.call(
            "POST",
            "/v3/refund/domestic/refunds",
            {
                "out_trade_no": out_trade_no,
                "out_refund_no": out_refund_no,
                "reason": bmp_text(reason, 80),
                "amount": {"refund": refund_fen, "total": total_fen, "currency": "CNY"},
            },
        )
        return self._refund_result(answer, out_trade_no, out_refund_no, channel_trade_no)

    def query_refund(self, *, out_trade_no: str, out_refund_no: str) -> RefundResult:
        answer = self.v3.call("GET", f"/v3/refund/domestic/refunds/{quote(out_refund_no, safe='')}")
        return self._refund_result(answer, out_trade_no, out_refund_no, "")

    def _refund_result(
        self, answer, out_trade_no: str, out_refund_no: str, channel_trade_no: str
    ) -> RefundResult:
        if not answer.ok:  # unsigned: it may only say the refund did not (yet) happen
            return RefundResult(Outcome.FAILED, message=answer.describe())
        body = answer.body
        status = {"SUCCESS": Outcome.SUCCEEDED, "PROCESSING": Outcome.PENDING}.get(
            body.get("status", ""), Outcome.FAILED
        )
        # A signed answer about another refund (replayed within the signature's 5 minutes) settles nothing here.
        asked = {
            "out_trade_no": out_trade_no,
            "out_refund_no": out_refund_no,
            "transaction_id": channel_trade_no,
        }
        for field, ours in asked.items():
            if ours and (field in body or status != Outcome.FAILED) and body.get(field) != ours:
                raise ChannelProtocolError(f"refund answered about another {field}: {body.get(field)!r}")
        refunded = (body.get("amount") or {}).get("refund")
        if status == Outcome.SUCCEEDED and (not isinstance(refunded, int) or isinstance(refunded, bool)):
            raise ChannelProtocolError("a refund answered SUCCESS without its amount.refund")
        return RefundResult(
            status,
            channel_refund_no=body.get("refund_id", ""),
            message=body.get("status", ""),
            amount_fen=refunded if status == Outcome.SUCCEEDED else None,
        )

    # --- 委托代扣 周期扣费 ---------------------------------------------------------------------------------------

    def agreement_sign_url(self, *, terms: AgreementTerms, notify_url: str, return_url: str) -> str:
        """H5 纯签约. WeChat brings the member back to the page they came from (its referer); it takes no return
        URL (排障手册 s.2.6 #16), so `return_url` is not sent."""
        url = self.papay.entry_url(
            {
                "plan_id": self.papay.plan_id(terms.period_months),
                "contract_code": terms.external_no,
                "request_serial": request_serial(),
                "contract_display_account": bmp_text(terms.account_label, 32),
                "notify_url": papay_notify_url(notify_url),
                "version": "1.0",
                "timestamp": int(clock.now().timestamp()),
                "clientip": terms.client_ip or "127.0.0.1",
            }
        )
        answer = self.papay.open_entry(url)
        if not answer.get("redirect_url"):
            raise ChannelRefused("h5entrustweb answered without a redirect_url")
        return answer["redirect_url"]

    def charge_agreement(
        self, *, channel_agreement_no: str, out_trade_no: str, amount_fen: int, subject: str, notify_url: str
    ) -> ChargeResult:
        try:
            self.papay.call(
                "pay/pappayapply",
                {
                    "body": bmp_text(subject, 40),  # String(128) bytes: 40 characters of up to 3 bytes
                    "out_trade_no": out_trade_no,
                    "total_fee": amount_fen,
                    "spbill_create_ip": self.config.server_ip,
                    "notify_url": papay_notify_url(notify_url),
                    "trade_type": "PAP",
                    "contract_id": channel_agreement_no,
                },
            )
        except (
            PapayRefused
        ) as exc:  # NOTENOUGH, CONTRACT_NOT_EXIST, RULELIMIT …: this attempt failed for good
            return ChargeResult(Outcome.FAILED, message=str(exc))
        except PapayUndecided as exc:  # SYSTEMERROR, ORDER_ACCEPTED …: the notification or a query decides
            return ChargeResult(Outcome.PENDING, message=exc.reason)
        return ChargeResult(Outcome.PENDING)  # accepted; the charge notification tells the result

    def announce_charge(self, *, channel_agreement_no: str, amount_fen: int) -> bool:
        """预扣费通知 (https://pay.weixin.qq.com/doc/v2/merchant/4011987402.md), 204 when sent. RESOURCE_ALREADY_EXISTS
        (the same notice sent before) counts as in place, as WeChat says (排障手册 s.2.5.2); read unsigned, it can
        only let us try a charge that WeChat itself refuses without a notice."""
        answer = self.v3.call(
            "POST",
            f"/v3/papay/contracts/{quote(channel_agreement_no, safe='')}/notify",
            {
                "mchid": self.config.mchid,
                "appid": self.config.appid,
                "deduct_duration": {"count": CHARGE_DAYS, "unit": "DAY"},
                "estimated_amount": {"amount": amount_fen, "currency": "CNY"},
            },
        )
        return answer.ok or answer.code == "RESOURCE_ALREADY_EXISTS"

    def _contract_ref(self, channel_agreement_no: str, external_no: str, period_months: int) -> dict:
        if channel_agreement_no:
            return {"contract_id": channel_agreement_no}
        return {"plan_id": self.papay.plan_id(period_months), "contract_code": external_no}

    def unsign_agreement(self, *, channel_agreement_no: str, external_no: str, period_months: int) -> bool:
        ref = self._contract_ref(channel_agreement_no, external_no, period_months)
        try:
            answer = self.papay.call(
                "papay/deletecontract", {**ref, "contract_termination_remark": "会员退订", "version": "1.0"}
            )
        except PapayRefused as exc:
            return exc.code in CONTRACT_GONE  # already ended at the channel: done
        except PapayUndecided:
            return False
        if "contract_id" in ref and answer.get("contract_id", ref["contract_id"]) != ref["contract_id"]:
            raise ChannelProtocolError("deletecontract answered about another contract")
        return True

    def query_agreement(
        self, *, channel_agreement_no: str, external_no: str, period_months: int
    ) -> AgreementState:
        ref = self._contract_ref(channel_agreement_no, external_no, period_months)
        try:
            answer = self.papay.call("papay/querycontract", {**ref, "version": "1.0"})
        except PapayRefused as exc:
            return AgreementState.TERMINATED if exc.code in CONTRACT_GONE else AgreementState.UNKNOWN
        except PapayUndecided:
            return AgreementState.UNKNOWN
        for field, ours in ref.items():
            if answer.get(field) and answer[field] != str(ours):
                raise ChannelProtocolError(f"querycontract answered about another {field}: {answer[field]!r}")
        return CONTRACT_STATES.get(answer.get("contract_state", ""), AgreementState.UNKNOWN)
