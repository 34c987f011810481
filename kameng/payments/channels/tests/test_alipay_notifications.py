"""Alipay notifications the real gateway sends and the shop must accept: empty values in the signed text, JSON
values delivered HTML-escaped, and charset=GBK form bodies.

Alipay's rule (异步通知验签, https://opendocs.alipay.com/open/203/105286): every parameter it sends except `sign`
and `sign_type` is signed, sorted, `k=v` joined by `&`, in the notification's charset. The signatures here are
made by this test from that rule with the `cryptography` package (not with our protocol module), and where the
text is UTF-8 python-alipay-sdk's own `AliPay.verify` is asked about the very same parameters.
"""

import base64
from urllib.parse import urlencode

import pytest
from alipay import AliPay
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from kameng.payments.channels.alipay import AlipayChannel
from kameng.payments.channels.base import EventKind
from kameng.payments.channels.config import AlipayConfig
from kameng.payments.channels.errors import SignatureError
from kameng.protocols import alipay as protocol
from kameng.sandbox.keys import _keypair

APP_ID = "2021000000000000"
PRIVATE, PUBLIC = _keypair()  # Alipay's key pair, for this module


def documented_content(params: dict[str, str]) -> str:
    """The text Alipay signs, written from the page, not from our code: all but sign and sign_type, empty ones too."""
    return "&".join(f"{k}={params[k]}" for k in sorted(params) if k not in ("sign", "sign_type"))


def alipay_signs(params: dict[str, str], *, encoding: str = "utf-8") -> dict[str, str]:
    key = serialization.load_pem_private_key(PRIVATE.encode(), password=None)
    raw = key.sign(documented_content(params).encode(encoding), padding.PKCS1v15(), hashes.SHA256())
    return {**params, "sign_type": "RSA2", "sign": base64.b64encode(raw).decode()}


def sdk_verifies(params: dict[str, str]) -> bool:
    """python-alipay-sdk's own verifier, as its README says to call it: pop sign, pass the rest."""
    sdk = AliPay(
        appid=APP_ID,
        app_notify_url=None,
        app_private_key_string=PRIVATE,  # unused by verify
        alipay_public_key_string=PUBLIC,
        sign_type="RSA2",
    )
    data = dict(params)
    signature = data.pop("sign")
    return sdk.verify(data, signature)


def trade_paid(**extra: str) -> dict[str, str]:
    return {
        "notify_id": "2026120800222000000000000001",
        "notify_type": "trade_status_sync",
        "notify_time": "2026-12-08 10:00:00",
        "charset": "utf-8",
        "version": "1.0",
        "app_id": APP_ID,
        "auth_app_id": APP_ID,
        "out_trade_no": "K20261208000001",
        "trade_no": "2026120822001400000000000001",
        "trade_status": "TRADE_SUCCESS",
        "total_amount": "30.00",
        "subject": "VIP 月卡",
        **extra,
    }


def channel() -> AlipayChannel:
    return AlipayChannel(
        AlipayConfig(
            app_id=APP_ID,
            app_private_key_pem=PRIVATE,
            alipay_public_key_pem=PUBLIC,
            gateway_url="https://gateway.invalid/gateway.do",
        )
    )


def delivered(params: dict[str, str], *, encoding: str = "utf-8") -> bytes:
    """The form body as Alipay POSTs it: percent-encoded in the notification's charset."""
    return urlencode(params, encoding=encoding).encode("ascii")


# --- empty values are signed ------------------------------------------------------------------------------------------


def test_a_notification_with_an_empty_value_verifies_with_the_sdk_and_with_us():
    params = alipay_signs(trade_paid(body="", passback_params=""))
    assert sdk_verifies(params) is True
    assert protocol.verify_notification(params, PUBLIC) is True


def test_an_empty_value_dropped_by_the_signer_is_refused_by_the_sdk_and_by_us():
    """The other way round: a signature that left the empty value out is not Alipay's rule; both refuse it."""
    params = trade_paid(unsign_time="")
    without = {k: v for k, v in params.items() if v}
    signed = {**params, "sign": alipay_signs(without)["sign"], "sign_type": "RSA2"}
    assert sdk_verifies(signed) is False
    assert protocol.verify_notification(signed, PUBLIC) is False


def test_the_sandbox_signer_keeps_empty_values_so_the_sdk_accepts_its_unsign_notice():
    params = trade_paid(notify_type="dut_user_sign", unsign_time="")
    signed = protocol.sign_notification(params, PRIVATE)
    assert sdk_verifies(signed) is True


def test_an_empty_value_sent_through_the_adapter_is_a_payment():
    body = delivered(alipay_signs(trade_paid(body="")))
    event = channel().parse_notification(headers={}, body=body, now_ts=0)
    assert (event.kind, event.out_trade_no, event.amount_fen) == (EventKind.PAYMENT, "K20261208000001", 3000)


def test_a_value_emptied_after_signing_is_refused():
    signed = alipay_signs(trade_paid(body="月卡"))
    with pytest.raises(SignatureError):
        channel().parse_notification(headers={}, body=delivered({**signed, "body": ""}), now_ts=0)


# --- HTML-escaped JSON values ---------------------------------------------------------------------------------------

FUND_BILLS = '[{"amount":"30.00","fundChannel":"ALIPAYACCOUNT"}]'
ESCAPED = FUND_BILLS.replace('"', "&quot;")


def test_fund_bill_list_delivered_with_quot_verifies_as_alipay_signed_it():
    """Alipay signs the JSON and delivers it HTML-escaped (lokielse/omnipay-alipay#143): the SDK accepts the text
    Alipay signed, we accept what arrives."""
    signed = alipay_signs(trade_paid(fund_bill_list=FUND_BILLS))
    received = {**signed, "fund_bill_list": ESCAPED}
    assert sdk_verifies(signed) is True
    assert protocol.verify_notification(received, PUBLIC) is True
    event = channel().parse_notification(headers={}, body=delivered(received), now_ts=0)
    assert (event.kind, event.amount_fen) == (EventKind.PAYMENT, 3000)


def test_a_value_signed_with_quot_as_is_verifies_too():
    signed = alipay_signs(trade_paid(fund_bill_list=ESCAPED))
    assert sdk_verifies(signed) is True
    assert protocol.verify_notification(signed, PUBLIC) is True


def test_an_escaped_notification_with_a_changed_amount_is_refused():
    received = {**alipay_signs(trade_paid(fund_bill_list=FUND_BILLS)), "fund_bill_list": ESCAPED}
    assert protocol.verify_notification({**received, "total_amount": "0.01"}, PUBLIC) is False


def test_unescaping_cannot_smuggle_another_value_past_the_signature():
    """An entity in another field that the signer did not write is not a licence: the unescaped text must carry
    Alipay's signature too."""
    signed = alipay_signs(trade_paid(subject="VIP 月卡"))
    assert protocol.verify_notification({**signed, "subject": "VIP &#26376;&#21345;x"}, PUBLIC) is False


# --- charset=GBK ----------------------------------------------------------------------------------------------------


def test_a_gbk_notification_verifies_over_its_gbk_bytes():
    params = alipay_signs(trade_paid(charset="GBK", subject="VIP 月卡 续费"), encoding="gbk")
    event = channel().parse_notification(headers={}, body=delivered(params, encoding="gbk"), now_ts=0)
    assert (event.kind, event.out_trade_no, event.amount_fen) == (EventKind.PAYMENT, "K20261208000001", 3000)


def test_a_gbk_notification_read_as_utf8_would_not_verify():
    """The charset matters: the same text signed over its UTF-8 bytes is not what a GBK notification carries."""
    params = alipay_signs(trade_paid(charset="GBK", subject="VIP 月卡"), encoding="utf-8")
    with pytest.raises(SignatureError):
        channel().parse_notification(headers={}, body=delivered(params, encoding="gbk"), now_ts=0)


def test_an_ascii_gbk_notification_verifies_with_the_sdk_and_with_us():
    """python-alipay-sdk hashes UTF-8 always, so it can only be asked about a GBK notice whose text is ASCII (where
    both encodings give the same bytes)."""
    params = alipay_signs(trade_paid(charset="GBK", subject="VIP month", body=""), encoding="gbk")
    assert sdk_verifies(params) is True
    assert protocol.verify_notification(params, PUBLIC) is True


def test_a_notification_in_an_unknown_charset_is_refused():
    params = alipay_signs(trade_paid(charset="ebcdic"))
    assert protocol.verify_notification(params, PUBLIC) is False
    with pytest.raises(Exception, match="charset"):
        channel().parse_notification(headers={}, body=delivered(params), now_ts=0)
