"""The sandbox's Alipay gateway answers server API calls as Alipay does: signed, with Alipay's error codes."""

import pytest
from django.test import Client

from kameng.payments.channels.registry import get_channel
from kameng.protocols import alipay as alipay_protocol
from kameng.sandbox import keys

pytestmark = pytest.mark.django_db


def call(method: str, biz: dict) -> dict:
    """What the shop's Alipay client reads back: the signed answer, its signature checked."""
    return get_channel("alipay").call(method, biz)


def test_a_call_without_a_valid_signature_is_refused_as_such():
    reply = Client().post(
        "/sandbox/alipay/gateway.do", {"app_id": keys.ALIPAY_APP_ID, "method": "alipay.trade.refund"}
    )
    answer = alipay_protocol.verify_response(
        reply.content.decode(), "alipay.trade.refund", get_channel("alipay").config.alipay_public_key_pem
    )
    assert answer == {
        "code": "40002",
        "msg": "Invalid Arguments",
        "sub_code": "isv.invalid-signature",
        "sub_msg": "验签出错",
    }


def test_a_method_the_sandbox_does_not_play_is_answered_invalid_method():
    answer = call(
        "alipay.trade.cancel", {"out_trade_no": "K1"}
    )  # 统一收单交易撤销: not a call the shop makes
    assert (answer["code"], answer["sub_code"]) == ("40004", "isv.invalid-method")


def test_a_refund_without_an_amount_is_answered_invalid_parameter():
    answer = call("alipay.trade.refund", {"out_trade_no": "K1"})
    assert (answer["code"], answer["sub_code"], answer["sub_msg"]) == (
        "40004",
        "ACQ.INVALID_PARAMETER",
        "参数无效",
    )


@pytest.mark.parametrize("biz", [["K1"], 7, "K1"])
@pytest.mark.parametrize(
    ("method", "prefix"),
    [
        ("alipay.trade.refund", "ACQ."),
        ("alipay.trade.pay", "ACQ."),
        ("alipay.user.agreement.unsign", ""),
        ("alipay.user.agreement.query", ""),
    ],
)
def test_a_biz_content_that_is_not_a_json_object_is_answered_invalid_parameter(method, prefix, biz):
    answer = call(method, biz)
    assert (answer["code"], answer["sub_code"]) == ("40004", f"{prefix}INVALID_PARAMETER")


def test_a_refund_of_an_unknown_trade_names_alipays_acquiring_error():
    answer = call("alipay.trade.refund", {"out_trade_no": "K404", "refund_amount": "1.00"})
    assert (answer["code"], answer["sub_code"]) == ("40004", "ACQ.TRADE_NOT_EXIST")


def test_a_charge_that_is_not_a_cycle_payment_is_answered_invalid_parameter():
    answer = call("alipay.trade.pay", {"out_trade_no": "K1", "product_code": "FAST_INSTANT_TRADE_PAY"})
    assert (answer["code"], answer["sub_code"]) == ("40004", "ACQ.INVALID_PARAMETER")


@pytest.mark.parametrize("method", ["alipay.user.agreement.query", "alipay.user.agreement.unsign"])
def test_an_unknown_agreement_is_answered_with_the_agreement_error_unprefixed(method):
    answer = call(method, {"agreement_no": "20250000000000000404"})
    assert (answer["code"], answer["sub_code"]) == ("40004", "USER_AGREEMENT_NOT_EXIST")
