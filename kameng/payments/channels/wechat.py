"""WeChat Pay APIv3 adapter: H5 payment, refunds, TRANSACTION.SUCCESS callbacks (SHA256-RSA, AES-256-GCM)."""

import json
from collections.abc import Mapping
from urllib.parse import quote

from kameng.core import clock
from kameng.core.http import TransportError, post
from kameng.payments.channels import wechat_protocol as protocol
from kameng.payments.channels.base import ChannelEvent, EventKind, RefundResult, Reply
from kameng.payments.channels.config import WechatConfig
from kameng.payments.channels.errors import ChannelProtocolError


class WechatChannel:
    name = "wechat"

    def __init__(self, config: WechatConfig):
        self.config = config

    def _call(self, path: str, payload: dict) -> dict:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        authorization = protocol.build_authorization(
            mchid=self.config.mchid,
            serial_no=self.config.merchant_serial,
            method="POST",
            url_path=path,
            body=body,
            merchant_private_key_pem=self.config.merchant_private_key_pem,
            timestamp=str(int(clock.now().timestamp())),
        )
        reply = post(
            self.config.api_base + path,
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
            raise ChannelProtocolError(f"{answer.get('code', reply.status)}: {answer.get('message', '')}")
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

    def ack(self) -> Reply:
        return Reply(204, "application/json", b"")

    def nack(self, reason: str) -> Reply:
        return Reply(400, "application/json", json.dumps({"code": "FAIL", "message": reason}).encode())

    def refund(
        self, *, out_trade_no: str, out_refund_no: str, refund_fen: int, total_fen: int, reason: str
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
        status = {"SUCCESS": "succeeded", "PROCESSING": "pending"}.get(answer.get("status", ""), "failed")
        return RefundResult(
            status, channel_refund_no=answer.get("refund_id", ""), message=answer.get("status", "")
        )
