"""What the Alipay conformance tests share: python-alipay-sdk pointed at the sandbox, and a loopback listener that
plays the merchant's notify URL, so that the sandbox's notifications are read exactly as they were sent."""

import http.server
import threading
import time
import urllib.request
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode

from alipay import AliPay  # python-alipay-sdk

from kameng.core import clock
from kameng.payments.channels.registry import get_channel
from kameng.sandbox import keys


def python_alipay_sdk(base: str) -> AliPay:
    """python-alipay-sdk with the merchant's keys the sandbox issued, its gateway set to the sandbox's. The SDK has
    no setting for the gateway URL but its debug switch between Alipay's two hosts: `_gateway` is set directly."""
    config = get_channel("alipay").config
    sdk = AliPay(
        appid=keys.ALIPAY_APP_ID,
        app_notify_url=None,
        app_private_key_string=config.app_private_key_pem,
        alipay_public_key_string=config.alipay_public_key_pem,
        sign_type="RSA2",
    )
    sdk._gateway = f"{base}/sandbox/alipay/gateway.do"
    return sdk


class NotifyListener:
    """A merchant notify URL on loopback: records every form it receives and answers `success`."""

    def __init__(self):
        received: list[dict[str, str]] = []
        self.received = received

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode("utf-8")
                received.append(dict(parse_qsl(body, keep_blank_values=True)))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"success")

            def log_message(self, *args):  # quiet
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/notify"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, notify_type: str, count: int = 1, timeout: float = 15) -> list[dict[str, str]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [note for note in self.received if note.get("notify_type") == notify_type]
            if len(found) >= count:
                return found
            time.sleep(0.1)
        raise AssertionError(f"no {notify_type} notification; received {self.received!r}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def verified_by_python_alipay_sdk(sdk: AliPay, notification: dict[str, str]) -> bool:
    """python-alipay-sdk's own check of an asynchronous notification (verify pops sign_type, signs the rest)."""
    params = dict(notification)
    signature = params.pop("sign")
    return sdk.verify(params, signature)


def pay_at_cashier(base: str, out_trade_no: str) -> None:
    """The buyer's button on the sandbox cashier (or on the precreate scan page)."""
    request = urllib.request.Request(f"{base}/sandbox/pay/{out_trade_no}", data=b"", method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=15) as reply:  # noqa: S310 (loopback)
        assert reply.status == 200


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=15) as reply:  # noqa: S310 (loopback)
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode()


def post_form(url: str, form: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(url, data=urlencode(form).encode(), method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=15) as reply:  # noqa: S310 (loopback)
        return reply.status, reply.read().decode()


def today_plus(days: int) -> str:
    return (clock.now().date() + timedelta(days=days)).isoformat()


def pay_and_sign_biz(out_trade_no: str, *, execute_time: str, single_amount: str = "15.00") -> dict:
    """支付并签约 for 周期扣款: a 7-day DAY period (the shortest Alipay allows) whose first planned date is
    `execute_time`, so that the deduction window can be reached without moving the clock."""
    return {
        "out_trade_no": out_trade_no,
        "total_amount": "15.00",
        "subject": "VIP 月卡",
        "product_code": "CYCLE_PAY_AUTH",
        "agreement_sign_params": {
            "personal_product_code": "CYCLE_PAY_AUTH_P",
            "sign_scene": "INDUSTRY|DIGITAL_MEDIA",
            "external_agreement_no": f"A{out_trade_no}",
            "external_logon_id": "member1",
            "access_params": {"channel": "ALIPAYAPP"},
            "period_rule_params": {
                "period_type": "DAY",
                "period": 7,
                "execute_time": execute_time,
                "single_amount": single_amount,
            },
        },
    }
