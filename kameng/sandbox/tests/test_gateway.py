"""The sandbox gateway behaves as a channel integrator relies on: it believes only the merchant's signature, pays back
no more than was paid, and signs what it sends so that the shop's verifier accepts it and nothing altered."""

import json
from urllib.parse import urlencode

import pytest
from django.test import Client

from kameng.core import clock
from kameng.core.money import yuan_str
from kameng.payments.channels.errors import SignatureError
from kameng.payments.channels.registry import get_channel
from kameng.payments.models import NotificationLog
from kameng.protocols import alipay as alipay_protocol
from kameng.protocols import wechat as wechat_protocol
from kameng.sandbox import keys
from kameng.sandbox.keys import _keypair
from kameng.sandbox.models import SandboxNotification, SandboxRefund, SandboxTrade
from kameng.sandbox.tests import wechat_client
from tests.factories import UserFactory, open_cashier, pay_in_sandbox, place_order, stocked_product

pytestmark = pytest.mark.django_db


def _paid_trade(channel: str = "alipay") -> SandboxTrade:
    order = place_order(UserFactory(), stocked_product(keys=2, price_fen=5000), channel=channel)
    open_cashier(order)
    pay_in_sandbox(order)
    return SandboxTrade.objects.get(out_trade_no=order.order_no, status=SandboxTrade.Status.PAID)


def _refund(trade: SandboxTrade, *, fen: int, refund_no: str):
    return get_channel(trade.channel).refund(
        out_trade_no=trade.out_trade_no,
        out_refund_no=refund_no,
        refund_fen=fen,
        total_fen=trade.amount_fen,
        reason="test",
    )


# --- the merchant's signature -------------------------------------------------------------------------------------


def _page_pay_params(out_trade_no: str) -> dict[str, str]:
    return {
        "app_id": keys.ALIPAY_APP_ID,
        "method": "alipay.trade.wap.pay",
        "charset": "utf-8",
        "timestamp": clock.now().strftime("%Y-%m-%d %H:%M:%S"),
        "version": "1.0",
        "notify_url": "http://127.0.0.1:8000/payments/notify/alipay/",
        "biz_content": json.dumps(
            {
                "out_trade_no": out_trade_no,
                "total_amount": "0.01",
                "subject": "x",
                "product_code": "QUICK_WAP_WAY",
            }
        ),
    }


def test_a_pay_request_signed_with_the_merchants_key_opens_a_trade_at_its_amount():
    merchant_key = get_channel("alipay").config.app_private_key_pem  # what the shop signs with
    params = alipay_protocol.sign_request(_page_pay_params("K1"), merchant_key)
    assert Client().get("/sandbox/alipay/gateway.do?" + urlencode(params)).status_code == 200
    assert SandboxTrade.objects.get(out_trade_no="K1").amount_fen == 1


def test_a_pay_request_signed_with_another_key_is_refused_and_opens_no_trade():
    someone_elses_key, _ = _keypair()
    params = alipay_protocol.sign_request(_page_pay_params("K1"), someone_elses_key)

    answer = Client().get("/sandbox/alipay/gateway.do?" + urlencode(params))

    assert answer.status_code == 400
    assert not SandboxTrade.objects.exists()


def test_a_server_call_signed_with_another_key_is_answered_invalid_signature_in_a_signed_answer():
    trade = _paid_trade()
    someone_elses_key, _ = _keypair()
    params = {
        "app_id": keys.ALIPAY_APP_ID,
        "method": "alipay.trade.refund",
        "charset": "utf-8",
        "timestamp": clock.now().strftime("%Y-%m-%d %H:%M:%S"),
        "version": "1.0",
        "biz_content": json.dumps({"out_trade_no": trade.out_trade_no, "refund_amount": "50.00"}),
    }
    signed = alipay_protocol.sign_request(params, someone_elses_key)

    reply = Client().post(
        "/sandbox/alipay/gateway.do", urlencode(signed), content_type="application/x-www-form-urlencoded"
    )

    answer = alipay_protocol.verify_response(
        reply.content.decode(), "alipay.trade.refund", get_channel("alipay").config.alipay_public_key_pem
    )
    assert answer["sub_code"] == "isv.invalid-signature"
    assert not SandboxRefund.objects.exists()


# --- refunds --------------------------------------------------------------------------------------------------------


def test_an_alipay_refund_of_more_than_was_paid_is_refused_and_pays_nothing():
    trade = _paid_trade("alipay")
    result = _refund(trade, fen=trade.amount_fen + 1, refund_no="R1")
    assert result.status == "failed" and "REFUND_AMT_EXCEED" in result.message
    assert not SandboxRefund.objects.exists()


def test_a_wechat_refund_of_more_than_was_paid_is_refused_in_a_signed_403_and_pays_nothing():
    trade = _paid_trade("wechat")
    asked = {"out_trade_no": trade.out_trade_no, "out_refund_no": "R1"}
    asked["amount"] = {"refund": trade.amount_fen + 1, "total": trade.amount_fen, "currency": "CNY"}
    answer = wechat_client.v3("POST", "/v3/refund/domestic/refunds", asked)
    assert (answer.status_code, answer.json()["code"]) == (403, "TRADE_ERROR")
    platform = keys._issued_keys()["merchant"]["wechat"]["platform_public_keys"]
    headers = {
        name: answer[name] for name in ("Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Signature")
    }
    headers["Wechatpay-Serial"] = answer["Wechatpay-Serial"]
    wechat_protocol.verify_callback(
        headers=headers,
        body=answer.content,
        platform_public_keys=platform,
        now_ts=int(clock.now().timestamp()),
    )
    assert not SandboxRefund.objects.exists()


def test_partial_refunds_may_not_add_up_to_more_than_was_paid():
    trade = _paid_trade()
    assert _refund(trade, fen=3000, refund_no="R1").status == "succeeded"

    second = _refund(trade, fen=2001, refund_no="R2")

    assert second.status == "failed" and "REFUND_AMT_EXCEED" in second.message
    assert _refund(trade, fen=2000, refund_no="R3").status == "succeeded"
    assert sum(trade.refunds.values_list("amount_fen", flat=True)) == trade.amount_fen


def test_a_refund_asked_again_with_the_same_number_pays_once():
    trade = _paid_trade()
    first = _refund(trade, fen=1000, refund_no="R1")
    again = _refund(trade, fen=1000, refund_no="R1")

    # The repeat moves no money (fund_change N): the shop does not take it as a refund made now, and asks.
    assert (first.status, again.status) == ("succeeded", "pending")
    asked = get_channel(trade.channel).query_refund(out_trade_no=trade.out_trade_no, out_refund_no="R1")
    assert (asked.status, asked.amount_fen) == ("succeeded", 1000)
    assert list(trade.refunds.values_list("amount_fen", flat=True)) == [1000]


# --- what the gateway sends -----------------------------------------------------------------------------------------


def test_paying_twice_at_the_cashier_takes_the_money_and_notifies_once():
    order = place_order(UserFactory(), stocked_product(keys=1))
    open_cashier(order)
    for _ in range(2):
        assert Client().post(f"/sandbox/pay/{order.order_no}").status_code == 200

    assert SandboxNotification.objects.filter(trade__out_trade_no=order.order_no).count() == 1


# How a forger would alter each channel's notification: Alipay's carries the amount in the clear; WeChat Pay's is
# encrypted, so the forger replays it under a new event id for it to count a second time.
TAMPERED = {
    "alipay": lambda body, trade: body.replace(
        f"total_amount={yuan_str(trade.amount_fen)}", "total_amount=0.01"
    ),
    "wechat": lambda body, trade: body.replace('"id":"', '"id":"9', 1),
}


@pytest.mark.parametrize("channel", ["alipay", "wechat"])
def test_payment_notifications_are_signed_so_the_shops_verifier_accepts_them_and_nothing_altered(channel):
    trade = _paid_trade(channel)
    received = NotificationLog.objects.get(channel=channel, accepted=True)
    verifier = get_channel(channel)
    now_ts = int(clock.now().timestamp())

    event = verifier.parse_notification(headers=received.headers, body=received.body.encode(), now_ts=now_ts)

    assert (event.out_trade_no, event.amount_fen) == (trade.out_trade_no, trade.amount_fen)
    tampered = TAMPERED[channel](received.body, trade)
    assert tampered != received.body
    with pytest.raises(SignatureError):
        verifier.parse_notification(headers=received.headers, body=tampered.encode(), now_ts=now_ts)
