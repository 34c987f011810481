"""A stand-in for WeChat Pay's servers at the one place the shop calls out (`kameng.core.http.post`): records each
outgoing request as sent, and answers what a test scripts, signed by the third-party SDKs (wechatpy for v2 XML,
wechatpayv3 for v3 answers) rather than by our own protocol code."""

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from wechatpayv3.utils import load_private_key, rsa_sign
from wechatpy.pay.utils import calculate_signature, calculate_signature_hmac, dict_to_xml

from kameng.core import http
from kameng.core.http import HttpReply
from kameng.payments.channels.config import WechatConfig
from kameng.sandbox.keys import _keypair

API_BASE = "https://api.mch.weixin.qq.com"
APIV2_KEY = "192006250b4c09247ec02edce69f6a2d"  # the guide's own example key (签名与验签规则 s.2.4)
MCHID, APPID = "1900000109", "wxd678efh567hg6787"
PLANS = {1: 12535, 3: 12536, 12: 12537}
OLD_SERIAL, NEW_SERIAL = "PUB_KEY_ID_0000000000000000000000000001", "PUB_KEY_ID_0000000000000000000000000002"


@dataclass(frozen=True)
class Sent:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    @property
    def params(self) -> dict[str, str]:
        return dict(parse_qsl(self.query, keep_blank_values=True))


@dataclass
class Keys:
    merchant_private: str
    merchant_public: str
    platform: dict[str, tuple[str, str]] = field(default_factory=dict)  # serial → (private, public)


def make_keys() -> Keys:
    merchant_private, merchant_public = _keypair()
    return Keys(merchant_private, merchant_public, {OLD_SERIAL: _keypair(), NEW_SERIAL: _keypair()})


def config(keys: Keys, **overrides) -> WechatConfig:
    return WechatConfig(
        **{
            "mchid": MCHID,
            "appid": APPID,
            "merchant_serial": "3775B6A45ACD588826D15E583A95F5DD00000001",
            "merchant_private_key_pem": keys.merchant_private,
            "platform_public_keys": {serial: pair[1] for serial, pair in keys.platform.items()},
            "apiv3_key": "a" * 32,
            "apiv2_key": APIV2_KEY,
            "api_base": API_BASE,
            "papay_plan_ids": PLANS,
            "native_enabled": True,
            **overrides,
        }
    )


def v2_answer(fields: dict, *, sign: str | None = "MD5", key: str = APIV2_KEY) -> HttpReply:
    """A v2 XML answer written and signed by wechatpy."""
    fields = {k: v for k, v in fields.items() if v is not None}
    signature = None
    if sign == "MD5":
        signature = calculate_signature(fields, key)
    elif sign == "HMAC-SHA256":
        fields["sign_type"] = "HMAC-SHA256"
        signature = calculate_signature_hmac(fields, key)
    return HttpReply(200, {"Content-Type": "text/xml"}, dict_to_xml(fields, signature).encode())


def v3_answer(
    status: int, body: dict | None, *, keys: Keys | None, serial: str = NEW_SERIAL, now_ts: int | None = None
) -> HttpReply:
    """A v3 answer; signed (with wechatpayv3's rsa_sign) when `keys` are given, as WeChat signs its 2xx."""
    raw = b"" if body is None else json.dumps(body, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", "Request-ID": secrets.token_hex(8)}
    if keys is not None:
        timestamp, nonce = str(now_ts or int(time.time())), secrets.token_hex(16)
        signature = rsa_sign(
            load_private_key(keys.platform[serial][0]), f"{timestamp}\n{nonce}\n{raw.decode()}\n"
        )
        headers.update(
            {
                "Wechatpay-Timestamp": timestamp,
                "Wechatpay-Nonce": nonce,
                "Wechatpay-Signature": signature,
                "Wechatpay-Serial": serial,
            }
        )
    return HttpReply(status, headers, raw)


class FakeWechat:
    """Install with `FakeWechat(monkeypatch)`; script answers by path (`answers[path] = reply or callable`)."""

    def __init__(self, monkeypatch):
        self.sent: list[Sent] = []
        self.answers: dict[str, HttpReply | Callable[[Sent], HttpReply]] = {}
        monkeypatch.setattr(http, "post", self.post)

    def post(self, url: str, *, body: bytes, headers: dict[str, str], timeout=None, method: str = "POST"):
        parts = urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}" == API_BASE, url
        sent = Sent(method, parts.path, parts.query, dict(headers), body)
        self.sent.append(sent)
        for prefix, answer in self.answers.items():
            if sent.path == prefix or (sent.path.startswith(prefix.rstrip("*")) and prefix.endswith("*")):
                return answer(sent) if callable(answer) else answer
        raise AssertionError(f"no scripted answer for {method} {sent.path}")

    def last(self, path_prefix: str) -> Sent:
        return next(s for s in reversed(self.sent) if s.path.startswith(path_prefix))
