"""WeChat Pay APIv3 adapter: H5 payment, refunds, TRANSACTION.SUCCESS callbacks (SHA256-RSA, AES-256-GCM), and
委托代扣 (papay): the 预约扣费 H5 pre-entrust-sign, charges by transactions/apply, ENTRUST.SIGN / ENTRUST.TERMINATE."""

import json
from collections.abc import Mapping
from urllib.parse import quote

from kameng.core import clock
from kameng.core.http import TransportError, post
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
from kameng.payments.channels.config import WechatConfig
from kameng.payments.channels.errors import ChannelProtocolError, ChannelRefused
from kameng.protocols import wechat as protocol


class WechatChannel:
    name = "wechat"
    pays_first_period_at_signing = False  # 纯签约, then the first pappayapply within 12 h of signing

    def __init__(self, config: WechatConfig):
        self.config = config

    def _call(self, path: str, payload: dict | None, *, method: str = "POST") -> dict:
        body = "" if payload is None else json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        authorization = protocol.build_authorization(
            mchid=self.config.mchid,
            serial_no=self.config.merchant_serial,
            method=method,
            url_path=path,
            body=body,
            merchant_private_key_pem=self.config.merchant_private_key_pem,
            timestamp=str(int(clock.now().timestamp())),
        )
        reply = post(
            self.config.api_base + path,
            method=method,
            body=body.encode(),
            headers={
                "Content-Type": "application/json",
                "Accept": "application/json",
                "Authorization": authorization,
            },
        )
        if reply.status >= 500:
            raise TransportError(f"wechat pay answered HTTP {reply.status}")
        # Answers are signed like callbacks; an unsigned or forged answer is not believed.
        protocol.verify_callback(
            headers=reply.headers,
            body=reply.body,
            platform_public_keys=self.config.platform_public_keys,
            now_ts=int(clock.now().timestamp()),
        )
        answer = json.loads(reply.body or b"{}")
        if reply.status >= 400:
            raise ChannelRefused(f"{answer.get('code', reply.status)}: {answer.get('message', '')}")
        return answer

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
        answer = self._call(
            "/v3/pay/transactions/h5",
            {
                "appid": self.config.appid,
                "mchid": self.config.mchid,
                "description": subject[:127],
                "out_trade_no": order_no,
                "notify_url": notify_url,
                "amount": {"total": amount_fen, "currency": "CNY"},
                "scene_info": {"payer_client_ip": client_ip or "127.0.0.1", "h5_info": {"type": "Wap"}},
            },
        )
        return f"{answer['h5_url']}&redirect_url={quote(return_url, safe='')}"

    def parse_notification(self, *, headers: Mapping[str, str], body: bytes, now_ts: int) -> ChannelEvent:
        protocol.verify_callback(
            headers=headers, body=body, platform_public_keys=self.config.platform_public_keys, now_ts=now_ts
        )
        try:
            envelope = json.loads(body)
            event_id, event_type, resource = envelope["id"], envelope["event_type"], envelope["resource"]
        except (ValueError, KeyError, TypeError):
            raise ChannelProtocolError("not a WeChat Pay event") from None
        if event_type in ("ENTRUST.SIGN", "ENTRUST.TERMINATE"):
            return self._contract_event(
                event_id, event_type, protocol.decrypt_resource(resource, self.config.apiv3_key)
            )
        if event_type != "TRANSACTION.SUCCESS":
            return ChannelEvent(kind=EventKind.IGNORED, dedupe_key=event_id)
        plain = protocol.decrypt_resource(resource, self.config.apiv3_key)
        if plain.get("mchid") != self.config.mchid or plain.get("appid") != self.config.appid:
            raise ChannelProtocolError("notification for another merchant")
        amount = plain.get("amount") or {}
        if plain.get("trade_state") != "SUCCESS" or amount.get("currency", "CNY") != "CNY":
            return ChannelEvent(kind=EventKind.IGNORED, dedupe_key=event_id)
        total = amount.get("total")
        if not isinstance(total, int) or isinstance(total, bool):
            raise ChannelProtocolError("bad amount")
        return ChannelEvent(
            kind=EventKind.PAYMENT,
            dedupe_key=event_id,
            out_trade_no=str(plain.get("out_trade_no", "")),
            channel_trade_no=str(plain.get("transaction_id", "")),
            amount_fen=total,
        )

    def _contract_event(self, event_id: str, event_type: str, plain: dict) -> ChannelEvent:
        if plain.get("mchid") != self.config.mchid or plain.get("appid") != self.config.appid:
            raise ChannelProtocolError("notification for another merchant")
        state = plain.get("contract_state")
        if event_type == "ENTRUST.SIGN" and state == "SIGNED":
            kind = EventKind.AGREEMENT_SIGNED
        elif event_type == "ENTRUST.TERMINATE" and state == "TERMINATED":
            kind = EventKind.AGREEMENT_TERMINATED
        else:
            return ChannelEvent(kind=EventKind.IGNORED, dedupe_key=event_id)
        if not plain.get("contract_id") or not plain.get("out_contract_code"):
            raise ChannelProtocolError("no contract_id / out_contract_code")
        return ChannelEvent(
            kind=kind,
            dedupe_key=event_id,
            external_agreement_no=str(plain["out_contract_code"]),
            channel_agreement_no=str(plain["contract_id"]),
        )

    def ack(self) -> Reply:
        return Reply(204, "application/json", b"")

    def nack(self, reason: str) -> Reply:
        return Reply(400, "application/json", json.dumps({"code": "FAIL", "message": reason}).encode())

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
        answer = self._call(
            "/v3/refund/domestic/refunds",
            {
                "out_trade_no": out_trade_no,
                "out_refund_no": out_refund_no,
                "reason": reason[:80],
                "amount": {"refund": refund_fen, "total": total_fen, "currency": "CNY"},
            },
        )
        status = {"SUCCESS": Outcome.SUCCEEDED, "PROCESSING": Outcome.PENDING}.get(
            answer.get("status", ""), Outcome.FAILED
        )
        # A signed answer about another refund (replayed within the signature's 5 minutes) settles nothing here.
        asked = {
            "out_trade_no": out_trade_no,
            "out_refund_no": out_refund_no,
            "transaction_id": channel_trade_no,
        }
        for field, ours in asked.items():
            if ours and (field in answer or status != Outcome.FAILED) and answer.get(field) != ours:
                raise ChannelProtocolError(f"refund answered about another {field}: {answer.get(field)!r}")
        return RefundResult(
            status, channel_refund_no=answer.get("refund_id", ""), message=answer.get("status", "")
        )

    def agreement_sign_url(self, *, terms: AgreementTerms, notify_url: str, return_url: str) -> str:
        answer = self._call(
            "/v3/papay/scheduled-deduct-sign/contracts/pre-entrust-sign/h5",
            {
                "appid": self.config.appid,
                "plan_id": self.config.papay_plan_ids[terms.period_months],
                "out_contract_code": terms.external_no,
                "contract_display_account": terms.account_label[:32],
                "contract_notify_url": notify_url,
                "out_user_code": terms.user_ref,
                "deduct_schedule": {
                    "estimated_deduct_date": terms.first_charge_date.isoformat(),
                    "estimated_deduct_amount": {"total": terms.single_amount_fen, "currency": "CNY"},
                    "description": terms.plan_name[:32],
                },
            },
        )
        return f"{answer['redirect_url']}&redirect_url={quote(return_url, safe='')}"

    def charge_agreement(
        self, *, channel_agreement_no: str, out_trade_no: str, amount_fen: int, subject: str, notify_url: str
    ) -> ChargeResult:
        try:
            self._call(
                "/v3/papay/pay/transactions/apply",
                {
                    "appid": self.config.appid,
                    "out_trade_no": out_trade_no,
                    "description": subject[:127],
                    "notify_url": notify_url,
                    "contract_id": channel_agreement_no,
                    "amount": {"total": amount_fen, "currency": "CNY"},
                },
            )
        except (
            ChannelRefused
        ) as exc:  # a signed business refusal (e.g. NOTENOUGH); other errors: outcome unknown
            return ChargeResult(Outcome.FAILED, message=str(exc)[:200])
        return ChargeResult(Outcome.PENDING)  # accepted; TRANSACTION.SUCCESS tells the result

    def _contract_path(self, external_no: str, period_months: int) -> str:
        plan_id = self.config.papay_plan_ids[period_months]
        return f"/v3/papay/sign/contracts/plan-id/{plan_id}/out-contract-code/{external_no}"

    def unsign_agreement(self, *, channel_agreement_no: str, external_no: str, period_months: int) -> bool:
        try:
            self._call(
                self._contract_path(external_no, period_months) + "/terminate",
                {"contract_termination_remark": "会员退订"},
            )
        except ChannelRefused as exc:
            return "CONTRACT_TERMINATED" in str(exc)  # already ended at the channel: done
        return True

    def query_agreement(
        self, *, channel_agreement_no: str, external_no: str, period_months: int
    ) -> AgreementState:
        try:
            answer = self._call(self._contract_path(external_no, period_months), None, method="GET")
        except ChannelRefused as exc:
            return AgreementState.TERMINATED if "NOT_FOUND" in str(exc) else AgreementState.UNKNOWN
        return (
            AgreementState.ACTIVE if answer.get("contract_state") == "SIGNED" else AgreementState.TERMINATED
        )
