"""The merchant's side for the WeChat conformance tests: wechatpayv3 and wechatpy clients pointed at the sandbox, a
loopback listener standing for the merchant's notify URLs, and the test clock moved for the server and the SDKs."""

import time
from datetime import timedelta
from types import SimpleNamespace

import wechatpayv3.utils
import wechatpy.pay.api.withhold
import wechatpy.pay.utils
from wechatpayv3 import WeChatPay as WeChatPayV3
from wechatpayv3 import WeChatPayType
from wechatpy.pay import WeChatPay as WeChatPayV2

from kameng.core import clock
from kameng.sandbox import keys
from tests.conformance.loopback import LoopbackMerchant


def merchant() -> dict:
    """The shop's side of the sandbox's keys file (what a merchant holds)."""
    return keys._issued_keys()["merchant"]["wechat"]


def v3_client(base: str, notify_url: str, *, serial: str | None = None) -> WeChatPayV3:
    """wechatpayv3 in 微信支付公钥 mode, holding one platform serial (the newest unless told)."""
    held = merchant()
    serial = serial or keys.sandbox_keys()["wechat_platform_serial"]
    client = WeChatPayV3(
        wechatpay_type=WeChatPayType.NATIVE,
        mchid=held["mchid"],
        private_key=held["merchant_private_key_pem"],
        cert_serial_no=held["merchant_serial"],
        appid=held["appid"],
        apiv3_key=held["apiv3_key"],
        notify_url=notify_url,
        public_key=held["platform_public_keys"][serial],
        public_key_id=serial,
    )
    client._core._gate_way = base + "/sandbox/wechat"  # the SDK's one fixed host, pointed at the sandbox
    return client


def v2_client(base: str) -> WeChatPayV2:
    held = merchant()
    client = WeChatPayV2(appid=held["appid"], api_key=held["apiv2_key"], mch_id=held["mchid"])
    client.API_BASE_URL = base + "/sandbox/wechat/"
    return client


def h5_sign_params(notify_url: str, contract_code: str, *, plan_id: int = 10001) -> dict:
    """papay/h5entrustweb's query, signed HMAC-SHA256 (its default) by wechatpy's own function: wechatpy's
    WeChatWithhold has only the 公众号 entry (papay/entrustweb), whose signature rule is the same."""
    params = {
        "appid": merchant()["appid"],
        "mch_id": merchant()["mchid"],
        "plan_id": plan_id,
        "contract_code": contract_code,
        "request_serial": int(time.time() * 1000),
        "contract_display_account": "conformance",
        "notify_url": notify_url,
        "version": "1.0",
        "timestamp": int(time.time()),
        "clientip": "127.0.0.1",
    }
    params["sign"] = wechatpy.pay.utils.calculate_signature_hmac(params, merchant()["apiv2_key"])
    return params


# 回调处理 section 4.1: the answer a merchant must give, XML with nothing around it.
MERCHANT_ANSWER = (
    b"<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>"
)


def _merchant_answer(body: bytes) -> tuple[int, str, bytes]:
    """v2 notifications are answered with WeChat's XML SUCCESS; v3 callbacks with 204."""
    if body.lstrip().startswith(b"<xml>"):
        return 200, "text/xml", MERCHANT_ANSWER
    return 204, "", b""


class Listener(LoopbackMerchant):
    """The merchant's notify URLs on loopback, every path recorded."""

    def __init__(self) -> None:
        super().__init__(_merchant_answer)
        self.received = self.requests

    def url(self, path: str) -> str:
        return self.address(path)

    def wait_for(self, path: str, count: int = 1, timeout: float = 15) -> list[SimpleNamespace]:
        """The first `count` notifications that came to `path`, waiting for them."""
        return self.wait_until(lambda r: r.path == path, count, timeout, f"notification at {path}")


class SharedClock:
    """Moves the sandbox's test clock for the server and, as a merchant's machine clock agrees with WeChat's, the
    time wechatpayv3 stamps its Authorization with."""

    def __init__(self, monkeypatch) -> None:
        self._offset = 0
        real = time.time
        monkeypatch.setattr(wechatpayv3.utils, "time", SimpleNamespace(time=lambda: real() + self._offset))
        # wechatpy asks DNS for api.mch.weixin.qq.com to learn its own address (spbill_create_ip); not here.
        monkeypatch.setattr(wechatpy.pay.api.withhold, "get_external_ip", lambda: "127.0.0.1")

    def move_to(self, days: int, hour: int, minute: int = 0) -> None:
        now = clock.now()
        target = (now + timedelta(days=days)).replace(hour=hour, minute=minute, second=0, microsecond=0)
        assert target > now, "the clock only moves forward"
        self._offset = clock.advance(seconds=int((target - now).total_seconds()) + 1)
        time.sleep(1.2)  # every server process re-reads the offset within a second
