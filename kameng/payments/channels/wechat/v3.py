"""WeChat Pay APIv3 calls: JSON signed with the merchant certificate's key; answers verified with the platform keys.

What an answer may be believed for (issue 14): the official SDKs (wechatpayv3 `Core.request`, WeChat's Java and Go
SDKs) verify the signature of 2xx answers only, and WeChat does not promise to sign its 4xx errors. So here:
* a 2xx answer must verify (under the `Wechatpay-Serial` it names, one of the configured platform keys);
* a 4xx answer is read unsigned, and may only make a call fail or end (a refund refused, a trade not found, a
  notice already in place), never make money count as arrived; a 4xx that does carry a signature must verify;
* a 5xx, or no answer, is "unknown": TransportError, asked again later.
"""

import json
from dataclasses import dataclass
from typing import Any

from kameng.core import clock, http
from kameng.core.http import TransportError
from kameng.payments.channels.config import WechatConfig
from kameng.payments.channels.errors import ChannelProtocolError
from kameng.protocols import wechat as protocol


@dataclass(frozen=True)
class V3Answer:
    status: int
    body: dict[str, Any]
    signed: bool  # verified with a platform key; always so for a 2xx

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def code(self) -> str:
        """The error code of a 4xx (`{"code": "ORDER_NOT_EXIST", "message": …}`), "" for a 2xx."""
        return "" if self.ok else str(self.body.get("code", ""))

    def describe(self) -> str:
        return f"HTTP {self.status} {self.code}: {self.body.get('message', '')}"[:200]


class V3Client:
    def __init__(self, config: WechatConfig):
        self.config = config

    def call(self, method: str, path: str, payload: dict | None = None) -> V3Answer:
        """`path` with its query string (signed as sent)."""
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
        headers = {"Accept": "application/json", "Authorization": authorization}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        reply = http.post(self.config.api_base + path, method=method, body=body.encode(), headers=headers)
        if reply.status >= 500:
            raise TransportError(f"wechat pay answered HTTP {reply.status}")
        if not (200 <= reply.status < 500) or 300 <= reply.status < 400:
            raise ChannelProtocolError(f"unexpected HTTP {reply.status}")
        ok = reply.status < 300
        signed = ok or bool(protocol._header(reply.headers, "Wechatpay-Signature"))
        if signed:  # raises SignatureError: an answer that claims a signature it does not have is forged
            protocol.verify_callback(
                headers=reply.headers,
                body=reply.body,
                platform_public_keys=self.config.platform_public_keys,
                now_ts=int(clock.now().timestamp()),
            )
        try:
            answer = json.loads(reply.body) if reply.body.strip() else {}
        except ValueError:
            raise ChannelProtocolError("answer is not JSON") from None
        if not isinstance(answer, dict):
            raise ChannelProtocolError("answer is not a JSON object")
        return V3Answer(reply.status, answer, signed)
