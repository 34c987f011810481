"""The Alipay adapter: 支付并签约 links, alipay.trade.pay outcomes by answer code, 当面付 QR codes.

The gateway is replaced by a function that records the request and answers with a response signed by Alipay's key,
so each answer code can be played exactly as Alipay documents it.
"""

import json
from datetime import date
from urllib.parse import parse_qsl, urlsplit

import pytest

from kameng.core.http import HttpReply, TransportError
from kameng.payments.channels import alipay as adapter
from kameng.payments.channels.base import AgreementTerms, Outcome, RefundResult
from kameng.payments.channels.config import AlipayConfig
from kameng.protocols import alipay as protocol
from kameng.sandbox.keys import _keypair

pytestmark = pytest.mark.django_db  # the request timestamp comes from the shop's clock

APP_PRIVATE, APP_PUBLIC = _keypair()
ALIPAY_PRIVATE, ALIPAY_PUBLIC = _keypair()


def channel(products: frozenset[str] = frozenset({"wap"})) -> adapter.AlipayChannel:
    return adapter.AlipayChannel(
        AlipayConfig(
            app_id="2021000000000000",
            app_private_key_pem=APP_PRIVATE,
            alipay_public_key_pem=ALIPAY_PUBLIC,
            gateway_url="https://openapi.alipay.invalid/gateway.do",
            products=products,
        )
    )


class Gateway:
    """Answers every call with `payload` for its method, signed by Alipay; keeps what the shop sent."""

    def __init__(self, monkeypatch, payload: dict | Exception):
        self.payload, self.sent = payload, []
        monkeypatch.setattr(adapter, "post", self)

    def __call__(self, url: str, *, body: bytes, headers: dict, **kwargs) -> HttpReply:
        params = dict(parse_qsl(body.decode(), keep_blank_values=True))
        self.sent.append(params)
        if isinstance(self.payload, Exception):
            raise self.payload
        text = protocol.sign_response(params["method"], self.payload, ALIPAY_PRIVATE)
        return HttpReply(200, {}, text.encode())


def charge() -> adapter.ChargeResult:
    return channel().charge_agreement(
        channel_agreement_no="20261208000000000001",
        out_trade_no="K1",
        amount_fen=3000,
        subject="VIP 月卡 续费",
        notify_url="https://shop.example/payments/notify/alipay/",
    )


PAID = {
    "code": "10000",
    "msg": "Success",
    "out_trade_no": "K1",
    "trade_no": "2026120822001400000000000001",
    "total_amount": "30.00",
}


def refused(sub_code: str, code: str = "40004") -> dict:
    return {
        "code": code,
        "msg": "Business Failed",
        "sub_code": sub_code,
        "sub_msg": "…",
        "out_trade_no": "K1",
    }


# --- alipay.trade.pay: only documented refusals fail ----------------------------------------------------------------


def test_a_paid_answer_succeeds(monkeypatch):
    Gateway(monkeypatch, PAID)
    result = charge()
    assert (result.status, result.channel_trade_no) == (Outcome.SUCCEEDED, PAID["trade_no"])


@pytest.mark.parametrize(
    "answer",
    [
        {"code": "10003", "msg": "Waiting", "out_trade_no": "K1"},  # 等待用户付款
        {"code": "20000", "msg": "Service Currently Unavailable", "sub_code": "isp.unknow-error"},
        refused("ACQ.SYSTEM_ERROR"),  # "call the inquiry API ASAP"
        refused("ACQ.SOMETHING_ALIPAY_ADDED_LATER"),  # a code we do not know
        refused("ACQ.TRADE_HAS_SUCCESS"),  # this very number is already paid: the query will say so
        {"code": "40004", "msg": "Business Failed", "out_trade_no": "K1"},  # no sub_code at all
        {**PAID, "trade_status": "WAIT_BUYER_PAY"},  # carried out but not (yet) paid
    ],
    ids=["10003", "20000", "system-error", "unknown-code", "has-success", "no-sub-code", "not-paid-yet"],
)
def test_an_answer_that_is_not_a_definite_refusal_is_unknown_not_failed(monkeypatch, answer):
    Gateway(monkeypatch, answer)
    assert charge().status == Outcome.PENDING


@pytest.mark.parametrize(
    "sub_code",
    [
        "ACQ.BUYER_BALANCE_NOT_ENOUGH",
        "ACQ.BUYER_BANKCARD_BALANCE_NOT_ENOUGH",
        "ACQ.AGREEMENT_NOT_EXIST",
        "ACQ.AGREEMENT_INVALID",
        "ACQ.AGREEMENT_STATUS_NOT_NORMAL",
        "ACQ.TRADE_HAS_CLOSE",
        "ACQ.CYCLE_PAY_DATE_NOT_MATCH",
        "ACQ.CYCLE_PAY_SINGLE_FEE_EXCEED_LIMIT",
    ],
)
def test_a_documented_refusal_fails_with_its_code(monkeypatch, sub_code):
    Gateway(monkeypatch, refused(sub_code))
    result = charge()
    assert result.status == Outcome.FAILED and result.message.startswith(sub_code)


def test_a_refusal_code_under_a_system_error_is_not_believed(monkeypatch):
    """A refusal's sub_code only counts with 40004 (业务处理失败); under 20000 the outcome is unknown."""
    Gateway(monkeypatch, refused("ACQ.BUYER_BALANCE_NOT_ENOUGH", code="20000"))
    assert charge().status == Outcome.PENDING


def test_no_answer_is_a_transport_error_for_the_caller_to_keep_pending(monkeypatch):
    Gateway(monkeypatch, TransportError("timed out"))
    with pytest.raises(TransportError):
        charge()


def test_the_charge_names_the_agreement_and_cycle_pay_product(monkeypatch):
    gateway = Gateway(monkeypatch, PAID)
    charge()
    biz = json.loads(gateway.sent[0]["biz_content"])
    assert biz["product_code"] == "CYCLE_PAY_AUTH"
    assert biz["agreement_params"] == {"agreement_no": "20261208000000000001"}
    assert gateway.sent[0]["notify_url"] == "https://shop.example/payments/notify/alipay/"


# --- 支付并签约 ------------------------------------------------------------------------------------------------------


def terms(**changes) -> AgreementTerms:
    return AgreementTerms(
        **{
            "external_no": "KA20261208ABCDEF0123456789",
            "plan_name": "月卡",
            "period_months": 1,
            "single_amount_fen": 3000,
            "first_charge_date": date(2027, 1, 8),
            "account_label": "alice",
            "user_ref": "7",
            "first_order_no": "K20261208000001",
            "first_amount_fen": 3000,
            "first_subject": "VIP 月卡",
            **changes,
        }
    )


def link_params(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def test_the_alipay_adapter_pays_the_first_period_at_signing():
    assert adapter.AlipayChannel.pays_first_period_at_signing is True


def test_the_sign_link_pays_the_first_order_and_signs_the_schedule_in_one_step():
    params = link_params(
        channel().agreement_sign_url(
            terms=terms(), notify_url="https://shop.example/n/", return_url="https://shop.example/r/"
        )
    )
    assert params["method"] == "alipay.trade.wap.pay"
    assert protocol.verify_request(params, APP_PUBLIC)
    biz = json.loads(params["biz_content"])
    assert (biz["out_trade_no"], biz["total_amount"], biz["product_code"]) == (
        "K20261208000001",
        "30.00",
        "CYCLE_PAY_AUTH",
    )
    sign = biz["agreement_sign_params"]
    assert sign["personal_product_code"] == "CYCLE_PAY_AUTH_P"
    assert sign["sign_scene"] not in ("", "DEFAULT|DEFAULT")
    assert sign["external_agreement_no"] == "KA20261208ABCDEF0123456789"
    assert sign["access_params"] == {"channel": "ALIPAYAPP"}
    assert sign["sign_notify_url"] == "https://shop.example/n/"
    assert sign["period_rule_params"] == {
        "period_type": "MONTH",
        "period": 1,
        "execute_time": "2027-01-08",
        "single_amount": "30.00",
    }


def test_an_execute_day_after_the_28th_is_never_signed():
    with pytest.raises(ValueError):
        channel().agreement_sign_url(
            terms=terms(first_charge_date=date(2027, 1, 29)), notify_url="", return_url=""
        )


def test_without_a_first_order_the_link_is_the_sign_only_page():
    params = link_params(
        channel().agreement_sign_url(terms=terms(first_order_no=""), notify_url="n", return_url="r")
    )
    assert params["method"] == "alipay.user.agreement.page.sign"
    assert "out_trade_no" not in json.loads(params["biz_content"])


# --- 当面付 and the pre-deduction notice ------------------------------------------------------------------------------


def qr(products: frozenset[str]) -> str:
    return channel(products).qr_code(
        order_no="K1",
        amount_fen=3000,
        subject="点卡",
        notify_url="https://shop.example/n/",
        client_ip="1.2.3.4",
    )


def test_no_qr_code_without_the_precreate_product(monkeypatch):
    gateway = Gateway(monkeypatch, PAID)
    with pytest.raises(LookupError):
        qr(frozenset({"wap"}))
    assert gateway.sent == []  # Alipay is not even asked


def test_precreate_hands_out_alipays_qr_code(monkeypatch):
    gateway = Gateway(
        monkeypatch,
        {"code": "10000", "msg": "Success", "out_trade_no": "K1", "qr_code": "https://qr.alipay.com/bax01"},
    )
    assert qr(frozenset({"wap", "precreate"})) == "https://qr.alipay.com/bax01"
    sent = gateway.sent[0]
    assert sent["method"] == "alipay.trade.precreate" and sent["notify_url"] == "https://shop.example/n/"
    assert json.loads(sent["biz_content"]) == {
        "out_trade_no": "K1",
        "total_amount": "30.00",
        "subject": "点卡",
        "product_code": "FACE_TO_FACE_PAYMENT",
    }


def test_a_precreate_refusal_is_no_qr_code(monkeypatch):
    Gateway(monkeypatch, refused("ACQ.ACCESS_FORBIDDEN"))
    with pytest.raises(adapter.ChannelProtocolError):
        qr(frozenset({"wap", "precreate"}))


def test_a_precreate_answer_about_another_order_is_refused(monkeypatch):
    Gateway(monkeypatch, {"code": "10000", "msg": "Success", "out_trade_no": "K2", "qr_code": "https://x"})
    with pytest.raises(adapter.ChannelProtocolError):
        qr(frozenset({"wap", "precreate"}))


def test_alipay_needs_no_pre_deduction_notice(monkeypatch):
    gateway = Gateway(monkeypatch, PAID)
    assert channel().announce_charge(channel_agreement_no="2026", amount_fen=3000) is True
    assert gateway.sent == []


# --- refunds: fund_change, and the amount the refund query reports ----------------------------------------------------


def refund_answer(**fields) -> dict:
    return {"code": "10000", "msg": "Success", "out_trade_no": "K1", "trade_no": "2026X", **fields}


def refund() -> RefundResult:
    return channel().refund(
        out_trade_no="K1", out_refund_no="R1", refund_fen=1000, total_fen=3000, reason="退订"
    )


def test_a_refund_is_made_only_when_alipay_says_the_money_moved(monkeypatch):
    Gateway(monkeypatch, refund_answer(fund_change="Y", refund_fee="10.00"))
    assert refund().status == Outcome.SUCCEEDED


@pytest.mark.parametrize("fund_change", ["N", None], ids=["N", "missing"])
def test_a_refund_answered_without_money_moving_is_pending_not_made(monkeypatch, fund_change):
    # 10000 only says the call worked; N is also Alipay's answer to a repeat of a refund made before.
    Gateway(monkeypatch, refund_answer(**({"fund_change": fund_change} if fund_change else {})))
    assert refund().status == Outcome.PENDING


def test_the_refund_query_reports_the_amount_alipay_refunded(monkeypatch):
    Gateway(monkeypatch, refund_answer(out_request_no="R1", refund_amount="9.99"))
    result = channel().query_refund(out_trade_no="K1", out_refund_no="R1")
    assert (result.status, result.amount_fen) == (Outcome.SUCCEEDED, 999)
