"""How the WeChat adapter believes answers (issue 14): v2 in WeChat's order (return_code, result_code, then the sign
before a SUCCESS); v3 2xx must verify under one of the platform keys, an unsigned 4xx may only fail or end."""

import pytest

from kameng.core.http import TransportError
from kameng.payments.channels.base import AgreementState, Outcome, TradeState
from kameng.payments.channels.errors import ChannelProtocolError
from kameng.payments.channels.wechat import WechatChannel
from tests.conformance import wechat_fake as fake

pytestmark = pytest.mark.django_db  # kameng.core.clock reads the test clock


@pytest.fixture
def keys():
    return fake.make_keys()


@pytest.fixture
def wechat(monkeypatch, keys):
    return fake.FakeWechat(monkeypatch), WechatChannel(fake.config(keys))


def charge(channel):
    return channel.charge_agreement(
        channel_agreement_no="Wx1",
        out_trade_no="KM1",
        amount_fen=1500,
        subject="续费",
        notify_url="https://s/n/",
    )


def refused(err_code, *, sign="MD5"):
    return fake.v2_answer(
        {"return_code": "SUCCESS", "result_code": "FAIL", "err_code": err_code, "mch_id": fake.MCHID},
        sign=sign,
    )


@pytest.mark.parametrize("sign", ["MD5", None])
def test_a_charge_refused_for_lack_of_balance_fails_signed_or_not(wechat, sign):
    server, channel = wechat
    server.answers["/pay/pappayapply"] = refused("NOTENOUGH", sign=sign)
    result = charge(channel)
    assert result.status == Outcome.FAILED and "NOTENOUGH" in result.message


def test_a_systemerror_leaves_the_charge_unknown_not_failed(wechat):
    server, channel = wechat
    server.answers["/pay/pappayapply"] = refused("SYSTEMERROR")
    assert charge(channel).status == Outcome.PENDING


def test_a_return_code_fail_fails_the_charge(wechat):
    server, channel = wechat
    server.answers["/pay/pappayapply"] = fake.v2_answer(
        {"return_code": "FAIL", "return_msg": "签名错误"}, sign=None
    )
    assert charge(channel).status == Outcome.FAILED


def test_an_unsigned_success_is_not_believed(wechat):
    server, channel = wechat
    server.answers["/pay/paporderquery"] = fake.v2_answer(
        {"return_code": "SUCCESS", "result_code": "SUCCESS", "out_trade_no": "KM1", "trade_state": "SUCCESS"},
        sign=None,
    )
    with pytest.raises(ChannelProtocolError):
        channel.query_trade(out_trade_no="KM1", agreement_charge=True)


def test_a_success_signed_with_another_key_is_not_believed(wechat):
    server, channel = wechat
    server.answers["/pay/pappayapply"] = fake.v2_answer(
        {"return_code": "SUCCESS", "result_code": "SUCCESS", "mch_id": fake.MCHID}, key="f" * 32
    )
    with pytest.raises(ChannelProtocolError):
        charge(channel)


def test_an_hmac_sha256_answer_verifies_by_its_own_sign_type(wechat):
    server, channel = wechat
    server.answers["/papay/querycontract"] = fake.v2_answer(
        {"return_code": "SUCCESS", "result_code": "SUCCESS", "contract_id": "Wx1", "contract_state": "0"},
        sign="HMAC-SHA256",
    )
    assert channel.query_agreement(channel_agreement_no="Wx1", external_no="KA1", period_months=1) == (
        AgreementState.ACTIVE
    )


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("0", AgreementState.ACTIVE),
        ("TO_BE_RENEWED", AgreementState.ACTIVE),
        ("1", AgreementState.TERMINATED),
    ],
)
def test_contract_states(wechat, state, expected):
    server, channel = wechat
    server.answers["/papay/querycontract"] = fake.v2_answer(
        {"return_code": "SUCCESS", "result_code": "SUCCESS", "contract_id": "Wx1", "contract_state": state}
    )
    assert channel.query_agreement(channel_agreement_no="Wx1", external_no="KA1", period_months=1) == expected


def test_an_unsigned_contract_not_exist_confirms_an_unsign(wechat):
    server, channel = wechat
    server.answers["/papay/deletecontract"] = refused("CONTRACT_NOT_EXIST", sign=None)
    assert channel.unsign_agreement(channel_agreement_no="Wx1", external_no="KA1", period_months=1) is True


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("SUCCESS", TradeState.PAID),
        ("REFUND", TradeState.PAID),
        ("NOTPAY", TradeState.WAITING),
        ("USERPAYING", TradeState.WAITING),
        ("ACCEPT", TradeState.WAITING),
        ("CLOSED", TradeState.CLOSED),
        ("REVOKED", TradeState.CLOSED),
        ("PAYERROR", TradeState.CLOSED),
        ("PAY_FAIL", TradeState.CLOSED),
    ],
)
def test_papay_trade_states(wechat, state, expected):
    server, channel = wechat
    server.answers["/pay/paporderquery"] = fake.v2_answer(
        {
            "return_code": "SUCCESS",
            "result_code": "SUCCESS",
            "out_trade_no": "KM1",
            "trade_state": state,
            "transaction_id": "42",
            "total_fee": "1500",
        }
    )
    assert channel.query_trade(out_trade_no="KM1", agreement_charge=True).state == expected


def test_a_papay_order_unknown_to_both_queries_is_not_found(wechat):
    server, channel = wechat
    server.answers["/pay/paporderquery"] = refused("ORDERNOTEXIST", sign=None)
    server.answers["/pay/orderquery"] = refused("ORDERNOTEXIST", sign=None)
    assert channel.query_trade(out_trade_no="KM1", agreement_charge=True).state == TradeState.NOT_FOUND


def test_an_unsigned_v3_order_not_exist_is_not_found(wechat):
    server, channel = wechat
    server.answers["/v3/pay/transactions/out-trade-no/KM1"] = fake.v3_answer(
        404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"}, keys=None
    )
    assert channel.query_trade(out_trade_no="KM1").state == TradeState.NOT_FOUND


def test_an_unsigned_v3_success_is_not_believed(wechat):
    server, channel = wechat
    server.answers["/v3/pay/transactions/out-trade-no/KM1"] = fake.v3_answer(
        200, {"mchid": fake.MCHID, "out_trade_no": "KM1", "trade_state": "SUCCESS"}, keys=None
    )
    with pytest.raises(ChannelProtocolError):
        channel.query_trade(out_trade_no="KM1")


def test_a_v3_5xx_is_unknown(wechat):
    server, channel = wechat
    server.answers["/v3/pay/transactions/out-trade-no/KM1"] = fake.v3_answer(
        503, {"code": "SYSTEM_ERROR"}, keys=None
    )
    with pytest.raises(TransportError):
        channel.query_trade(out_trade_no="KM1")


@pytest.mark.parametrize("serial", [fake.OLD_SERIAL, fake.NEW_SERIAL])
def test_answers_signed_under_either_serial_of_a_rotation_verify(wechat, keys, serial):
    server, channel = wechat
    server.answers["/v3/papay/contracts/*"] = fake.v3_answer(204, None, keys=keys, serial=serial)
    assert channel.announce_charge(channel_agreement_no="Wx1", amount_fen=1500) is True


def test_an_answer_under_an_unknown_serial_is_refused(monkeypatch, keys):
    server = fake.FakeWechat(monkeypatch)
    only_old = {fake.OLD_SERIAL: keys.platform[fake.OLD_SERIAL][1]}
    channel = WechatChannel(fake.config(keys, platform_public_keys=only_old))
    server.answers["/v3/papay/contracts/*"] = fake.v3_answer(204, None, keys=keys, serial=fake.NEW_SERIAL)
    with pytest.raises(ChannelProtocolError, match="unknown Wechatpay-Serial"):
        channel.announce_charge(channel_agreement_no="Wx1", amount_fen=1500)


@pytest.mark.parametrize(
    ("code", "in_place"), [("RESOURCE_ALREADY_EXISTS", True), ("INVALID_REQUEST", False)]
)
def test_a_notice_already_sent_is_in_place(wechat, code, in_place):
    server, channel = wechat
    server.answers["/v3/papay/contracts/*"] = fake.v3_answer(400, {"code": code, "message": "x"}, keys=None)
    assert channel.announce_charge(channel_agreement_no="Wx1", amount_fen=1500) is in_place


def test_a_v3_refund_refused_unsigned_fails(wechat):
    server, channel = wechat
    server.answers["/v3/refund/domestic/refunds"] = fake.v3_answer(
        403, {"code": "NOT_ENOUGH", "message": "余额不足"}, keys=None
    )
    result = channel.refund(out_trade_no="KM1", out_refund_no="R1", refund_fen=1, total_fen=2, reason="r")
    assert result.status == Outcome.FAILED and "NOT_ENOUGH" in result.message


def test_native_needs_the_operator_to_say_the_account_has_it(monkeypatch, keys):
    channel = WechatChannel(fake.config(keys, native_enabled=False))
    with pytest.raises(LookupError):
        channel.qr_code(order_no="KM1", amount_fen=1, subject="x", notify_url="https://s/n/", client_ip="")


def refund_answer(keys, **amount):
    return fake.v3_answer(
        200,
        {
            "refund_id": "50000000382019052709732678859",
            "out_refund_no": "R1",
            "out_trade_no": "KM1",
            "status": "SUCCESS",
            **({"amount": amount} if amount else {}),
        },
        keys=keys,
    )


def test_a_v3_refund_query_reports_the_amount_refunded(wechat, keys):
    server, channel = wechat
    server.answers["/v3/refund/domestic/refunds/R1"] = refund_answer(keys, refund=700, total=1500)
    result = channel.query_refund(out_trade_no="KM1", out_refund_no="R1")
    assert (result.status, result.amount_fen) == (Outcome.SUCCEEDED, 700)


def test_a_v3_refund_success_without_its_amount_is_not_believed(wechat, keys):
    server, channel = wechat
    server.answers["/v3/refund/domestic/refunds/R1"] = refund_answer(keys)
    with pytest.raises(ChannelProtocolError):
        channel.query_refund(out_trade_no="KM1", out_refund_no="R1")
