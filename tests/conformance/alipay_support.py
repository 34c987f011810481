"""What the Alipay conformance tests share: python-alipay-sdk pointed at the sandbox, and a loopback listener that
plays the merchant's notify URL, so that the sandbox's notifications are read exactly as they were sent."""

import urllib.request
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode

from alipay import AliPay  # python-alipay-sdk

from kameng.core import clock
from kameng.payments.channels.registry import get_channel
from kameng.sandbox import keys
from tests.conformance.loopback import LoopbackMerchant


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


class NotifyListener(LoopbackMerchant):
    """A merchant notify URL on loopback: records every form it receives and answers `success`."""

    def __init__(self):
        super().__init__(lambda body: (200, "text/plain", b"success"))
        self.url = self.address("/notify")

    @property
    def received(self) -> list[dict[str, str]]:
        return [dict(parse_qsl(r.body.decode("utf-8"), keep_blank_values=True)) for r in self.requests]

    def wait_for(self, notify_type: str, count: int = 1, timeout: float = 15) -> list[dict[str, str]]:
        def is_it(request) -> bool:
            return dict(parse_qsl(request.body.decode("utf-8"))).get("notify_type") == notify_type

        self.wait_until(is_it, count, timeout, f"{notify_type} notification")
        return [note for note in self.received if note.get("notify_type") == notify_type][:count]


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
