"""The sandbox's alipay.trade.query, alipay.trade.close and alipay.trade.fastpay.refund.query, driven by
python-alipay-sdk (the requests signed by the SDK, the answers verified by the SDK), checked against Alipay's pages:
https://opendocs.alipay.com/open/02e7gm (trade.query), https://docs.open.alipay.com/api_1/alipay.trade.close,
https://docs.open.alipay.com/api_1/alipay.trade.fastpay.refund.query."""

import pytest
from alipay import AliPay
from django.test import Client

from kameng.payments.channels.registry import get_channel
from kameng.sandbox import services
from kameng.sandbox.models import SandboxTrade
from tests.factories import UserFactory, open_cashier, place_order, stocked_product

pytestmark = pytest.mark.django_db


def sdk() -> AliPay:
    config = get_channel("alipay").config
    return AliPay(
        appid=config.app_id,
        app_notify_url=None,
        app_private_key_string=config.app_private_key_pem,
        alipay_public_key_string=config.alipay_public_key_pem,
        sign_type="RSA2",
    )


def ask(method: str, biz: dict) -> dict:
    """The SDK builds and signs the call; it is posted as a form, as Alipay's gateway takes server calls; the SDK's
    own verifier checks the sandbox's signed answer and returns its fields."""
    client = sdk()
    body = client.sign_data(client.build_body(method, biz))
    reply = Client().post(
        "/sandbox/alipay/gateway.do", body, content_type="application/x-www-form-urlencoded;charset=utf-8"
    )
    assert reply.status_code == 200
    return client._verify_and_return_sync_response(
        reply.content.decode(), method.replace(".", "_") + "_response"
    )


def opened_trade() -> SandboxTrade:
    order = place_order(UserFactory(), stocked_product(keys=1, price_fen=1999))
    open_cashier(order)
    return SandboxTrade.objects.get(out_trade_no=order.order_no)


def test_a_trade_never_created_is_trade_not_exist():
    answer = ask("alipay.trade.query", {"out_trade_no": "K-NEVER"})
    assert (answer["code"], answer["sub_code"]) == ("40004", "ACQ.TRADE_NOT_EXIST")


def test_a_trade_waiting_for_the_buyer_is_wait_buyer_pay_by_either_number():
    trade = opened_trade()
    by_ours = ask("alipay.trade.query", {"out_trade_no": trade.out_trade_no})
    by_theirs = ask("alipay.trade.query", {"trade_no": trade.trade_no})
    assert by_ours == by_theirs
    assert by_ours["trade_status"] == "WAIT_BUYER_PAY" and by_ours["total_amount"] == "19.99"
    assert "send_pay_date" not in by_ours


def test_a_paid_trade_is_trade_success_with_its_numbers_and_amount():
    trade = services.pay(trade=opened_trade())
    answer = ask("alipay.trade.query", {"out_trade_no": trade.out_trade_no})
    assert answer["code"] == "10000" and answer["trade_status"] == "TRADE_SUCCESS"
    assert (answer["trade_no"], answer["out_trade_no"]) == (trade.trade_no, trade.out_trade_no)
    assert answer["total_amount"] == answer["buyer_pay_amount"] == "19.99" and answer["send_pay_date"]


def test_a_trade_refunded_in_full_is_trade_closed():
    trade = services.pay(trade=opened_trade())
    services.refund(channel="alipay", out_trade_no=trade.out_trade_no, out_refund_no="R1", amount_fen=1999)
    assert ask("alipay.trade.query", {"out_trade_no": trade.out_trade_no})["trade_status"] == "TRADE_CLOSED"


def test_closing_a_waiting_trade_closes_it_for_good():
    trade = opened_trade()
    closed = ask("alipay.trade.close", {"out_trade_no": trade.out_trade_no})
    assert closed["code"] == "10000" and closed["trade_no"] == trade.trade_no
    assert ask("alipay.trade.query", {"out_trade_no": trade.out_trade_no})["trade_status"] == "TRADE_CLOSED"
    paying = Client().post(f"/sandbox/pay/{trade.out_trade_no}")
    assert paying.status_code == 409 and paying.json()["error"]["code"] == "TRADE_HAS_CLOSE"


def test_a_paid_trade_cannot_be_closed():
    trade = services.pay(trade=opened_trade())
    answer = ask("alipay.trade.close", {"out_trade_no": trade.out_trade_no})
    assert (answer["code"], answer["sub_code"]) == ("40004", "ACQ.TRADE_STATUS_ERROR")


def test_closing_a_trade_never_created_is_trade_not_exist():
    answer = ask("alipay.trade.close", {"out_trade_no": "K-NEVER"})
    assert (answer["code"], answer["sub_code"]) == ("40004", "ACQ.TRADE_NOT_EXIST")


def test_a_refund_made_is_answered_with_its_amount_and_refund_success():
    trade = services.pay(trade=opened_trade())
    services.refund(channel="alipay", out_trade_no=trade.out_trade_no, out_refund_no="R1", amount_fen=500)
    answer = ask(
        "alipay.trade.fastpay.refund.query", {"out_trade_no": trade.out_trade_no, "out_request_no": "R1"}
    )
    assert answer["code"] == "10000" and answer["refund_status"] == "REFUND_SUCCESS"
    assert (answer["out_request_no"], answer["refund_amount"], answer["total_amount"]) == (
        "R1",
        "5.00",
        "19.99",
    )


def test_a_refund_never_made_is_answered_without_the_refund():
    trade = services.pay(trade=opened_trade())
    answer = ask(
        "alipay.trade.fastpay.refund.query", {"out_trade_no": trade.out_trade_no, "out_request_no": "R9"}
    )
    assert answer["code"] == "10000" and "refund_amount" not in answer and "out_request_no" not in answer


def test_a_refund_query_without_its_refund_number_is_invalid_parameter():
    trade = services.pay(trade=opened_trade())
    answer = ask("alipay.trade.fastpay.refund.query", {"out_trade_no": trade.out_trade_no})
    assert (answer["code"], answer["sub_code"]) == ("40004", "ACQ.INVALID_PARAMETER")


# alipay.trade.refund's fund_change, 本次退款是否发生了资金变化 (https://docs.open.alipay.com/api_1/alipay.trade.refund;
# https://developer.aliyun.com/article/707647: code 10000 only says the call worked, fund_change Y says money moved).


def test_a_refund_that_moves_money_answers_fund_change_y():
    trade = services.pay(trade=opened_trade())
    answer = ask(
        "alipay.trade.refund",
        {"out_trade_no": trade.out_trade_no, "refund_amount": "5.00", "out_request_no": "R1"},
    )
    assert (answer["code"], answer["refund_fee"], answer["fund_change"]) == ("10000", "5.00", "Y")


def test_the_same_refund_number_again_refunds_nothing_and_answers_fund_change_n():
    trade = services.pay(trade=opened_trade())
    refund = {"out_trade_no": trade.out_trade_no, "refund_amount": "5.00", "out_request_no": "R1"}
    ask("alipay.trade.refund", refund)
    again = ask("alipay.trade.refund", refund)
    assert (again["code"], again["refund_fee"], again["fund_change"]) == ("10000", "5.00", "N")
    assert trade.refunds.count() == 1
