"""Alipay's synchronous answers: only the exact text Alipay signed is believed, and only about what we asked.

An attacker between the shop and the gateway (or a gateway answer replayed) holds genuine signed answers: a refusal
about this refund, a success about another order. Wrapping them in a document of their own making (a duplicate
key, an object beside or inside the signed one) or replaying them for another call must change nothing.
"""

import json
from datetime import timedelta

import pytest
from alipay import AliPay
from django.db import transaction

from kameng.core import clock, outbox
from kameng.core.http import HttpReply
from kameng.membership import cancellation, renewals
from kameng.membership.models import Agreement, Membership
from kameng.payments import services as payments
from kameng.payments.channels import alipay as alipay_adapter
from kameng.payments.channels.base import AgreementState
from kameng.payments.channels.errors import ChannelProtocolError, SignatureError
from kameng.payments.channels.registry import get_channel
from kameng.payments.models import LedgerEntry, Payment, Refund
from kameng.protocols import alipay as alipay_protocol
from kameng.sandbox import keys
from tests.factories import (
    PlanFactory,
    UserFactory,
    join_vip,
    pay_in_sandbox,
    place_order,
    play_until,
    stocked_product,
)

pytestmark = pytest.mark.django_db

REFUND = "alipay.trade.refund"
KEY = "alipay_trade_refund_response"


def signed(method: str, payload: dict) -> str:
    """An answer signed with the gateway's own key, exactly as the sandbox gateway (playing Alipay) signs it."""
    return alipay_protocol.sign_response(method, payload, keys.sandbox_keys()["alipay_private"])


def parts(answer: str, method: str = REFUND) -> tuple[str, str]:
    """The signed object's text and the signature of a genuine answer, for an attacker to rearrange."""
    key = method.replace(".", "_") + "_response"
    document = json.loads(answer)
    inner = json.dumps(document[key], ensure_ascii=False, separators=(",", ":"))
    assert inner in answer  # the sandbox signs compact JSON: the text is recoverable as is
    return inner, document["sign"]


def shop_key() -> str:
    return get_channel("alipay").config.alipay_public_key_pem


def gateway_answers(monkeypatch, text: str) -> None:
    """Every Alipay call of the shop gets `text` back (an attacker on the path, or a replay)."""
    monkeypatch.setattr(
        alipay_adapter, "post", lambda url, **kwargs: HttpReply(200, {}, text.encode("utf-8"))
    )


def recorded_answers(monkeypatch) -> list[str]:
    """The shop's Alipay calls go to the sandbox gateway as usual; the raw answers are kept."""
    real, seen = alipay_adapter.post, []

    def recording(url, **kwargs):
        reply = real(url, **kwargs)
        seen.append(reply.body.decode("utf-8"))
        return reply

    monkeypatch.setattr(alipay_adapter, "post", recording)
    return seen


def sdk() -> AliPay:
    config = get_channel("alipay").config
    return AliPay(
        appid=config.app_id,
        app_notify_url=None,
        app_private_key_string=config.app_private_key_pem,
        alipay_public_key_string=config.alipay_public_key_pem,
        sign_type="RSA2",
    )


def paid_payment() -> Payment:
    order = place_order(UserFactory(), stocked_product(keys=1, price_fen=3000))
    pay_in_sandbox(order)
    return Payment.objects.get(order=order)


def pending_refund(payment: Payment) -> Refund:
    with transaction.atomic():
        return payments.request_refund(
            payment=payment, amount_fen=payment.amount_fen, reason=Refund.Reason.DUPLICATE_PAYMENT
        )


def assert_refund_unchanged(refund: Refund) -> None:
    refund.refresh_from_db()
    assert (refund.status, refund.channel_refund_no) == (Refund.Status.PENDING, "")
    assert not LedgerEntry.objects.filter(kind="refund_paid", reference=refund.refund_no).exists()


# --- a genuine answer still verifies ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "biz"),
    [
        (REFUND, {"out_trade_no": "K-NONE", "refund_amount": "1.00", "out_request_no": "R1"}),
        ("alipay.trade.pay", {"out_trade_no": "K-NONE"}),
        (
            "alipay.user.agreement.query",
            {"agreement_no": "NONE", "personal_product_code": "CYCLE_PAY_AUTH_P"},
        ),
        (
            "alipay.user.agreement.unsign",
            {"agreement_no": "NONE", "personal_product_code": "CYCLE_PAY_AUTH_P"},
        ),
    ],
)
def test_a_genuine_gateway_answer_verifies_with_our_code_and_the_alipay_sdk_alike(monkeypatch, method, biz):
    answers = recorded_answers(monkeypatch)
    ours = get_channel("alipay").call(method, biz)
    key = method.replace(".", "_") + "_response"
    assert sdk()._verify_and_return_sync_response(answers[0], key) == ours
    assert alipay_protocol.verify_response(answers[0], method, shop_key()) == ours


def test_a_genuine_refund_is_still_confirmed_through_the_gateway():
    refund = pending_refund(paid_payment())
    payments.execute_refund({"refund_no": refund.refund_no})
    refund.refresh_from_db()
    assert (
        refund.status == Refund.Status.SUCCEEDED
        and refund.channel_refund_no == refund.payment.channel_trade_no
    )


# --- documents built around a genuine signed answer ------------------------------------------------------------------


def _refusal() -> str:
    return signed(
        REFUND,
        {
            "code": "40004",
            "msg": "Business Failed",
            "sub_code": "ACQ.TRADE_NOT_EXIST",
            "sub_msg": "交易不存在",
        },
    )


def _forged_success(payment: Payment) -> str:
    return json.dumps(
        {
            "code": "10000",
            "msg": "Success",
            "out_trade_no": payment.order.order_no,
            "trade_no": payment.channel_trade_no,
            "refund_fee": "30.00",
            "fund_change": "Y",
        },
        separators=(",", ":"),
    )


# Each wraps a genuine signed refusal of this refund and a forged success for it. The first two were believed
# before (the signature checked one copy, json.loads returned the other); the rest were refused already and stay
# here so that they remain refused.
ATTACKS = {
    "a_duplicate_key_after_the_signed_one": '{{"{key}":{signed},"{key}":{fake},"sign":{sign}}}',
    "a_top_level_fake_beside_the_signed_one_nested": '{{"wrap":{{"{key}":{signed}}},"{key}":{fake},"sign":{sign}}}',
    "the_signed_one_inside_a_string": '{{"memo":"\\"{key}\\":{escaped}","{key}":{fake},"sign":{sign}}}',
    "no_top_level_answer_only_nested_ones": '{{"a":{{"{key}":{fake}}},"b":{{"{key}":{signed}}},"sign":{sign}}}',
    "a_second_sign_after_the_first": '{{"{key}":{signed},"sign":{sign},"sign":{sign}}}',
    "a_second_document_after_the_first": '{{"{key}":{signed},"sign":{sign}}}{{"{key}":{fake}}}',
}
NESTED_FAKE = '{{"wrap":{{"{key}":{fake}}},"{key}":{signed},"sign":{sign}}}'


def _attack(shape: str, payment: Payment) -> str:
    inner, sign = parts(_refusal())
    return (NESTED_FAKE if shape == "nested_fake" else ATTACKS[shape]).format(
        key=KEY,
        signed=inner,
        escaped=inner.replace("\\", "\\\\").replace('"', '\\"'),
        fake=_forged_success(payment),
        sign=json.dumps(sign),
    )


@pytest.mark.parametrize("shape", sorted(ATTACKS))
def test_a_document_rearranged_around_a_signed_answer_is_refused(shape):
    document = _attack(shape, paid_payment())
    if shape != "a_second_document_after_the_first":
        json.loads(document)  # well-formed JSON: refused for what it says, not for its syntax
    with pytest.raises(SignatureError):
        alipay_protocol.verify_response(document, REFUND, shop_key())


@pytest.mark.parametrize("shape", sorted(ATTACKS))
def test_a_rearranged_answer_to_a_refund_confirms_nothing(monkeypatch, shape):
    payment = paid_payment()
    refund = pending_refund(payment)
    gateway_answers(monkeypatch, _attack(shape, payment))
    with pytest.raises(SignatureError):
        payments.execute_refund({"refund_no": refund.refund_no})
    assert_refund_unchanged(refund)


def test_a_nested_fake_beside_the_signed_answer_is_never_what_is_read(monkeypatch):
    payment = paid_payment()
    refund = pending_refund(payment)
    document = _attack("nested_fake", payment)
    assert alipay_protocol.verify_response(document, REFUND, shop_key())["code"] == "40004"  # the signed one
    gateway_answers(monkeypatch, document)
    with pytest.raises(outbox.RetryLater):  # the refusal it is: asked again later
        payments.execute_refund({"refund_no": refund.refund_no})
    assert_refund_unchanged(refund)


def test_a_key_named_twice_inside_the_signed_object_is_refused_even_with_a_good_signature():
    inner = '{"code":"40004","out_trade_no":"K1","code":"10000"}'
    sign = alipay_protocol.rsa2_sign(inner, keys.sandbox_keys()["alipay_private"])
    with pytest.raises(SignatureError):
        alipay_protocol.verify_response(f'{{"{KEY}":{inner},"sign":{json.dumps(sign)}}}', REFUND, shop_key())


# --- a genuine answer about something else --------------------------------------------------------------------------


def test_a_signed_refund_answer_about_another_order_confirms_nothing(monkeypatch):
    ours, other = paid_payment(), paid_payment()
    refund = pending_refund(ours)
    about_other = json.loads(_forged_success(other))
    gateway_answers(monkeypatch, signed(REFUND, about_other))
    with pytest.raises(ChannelProtocolError):
        payments.execute_refund({"refund_no": refund.refund_no})
    assert_refund_unchanged(refund)


def test_a_signed_refund_answer_about_another_trade_of_the_same_order_number_confirms_nothing(monkeypatch):
    payment = paid_payment()
    refund = pending_refund(payment)
    answer = json.loads(_forged_success(payment)) | {"trade_no": "2026000000000000000000000000"}
    gateway_answers(monkeypatch, signed(REFUND, answer))
    with pytest.raises(ChannelProtocolError):
        payments.execute_refund({"refund_no": refund.refund_no})
    assert_refund_unchanged(refund)


def test_a_signed_refund_success_that_names_no_order_confirms_nothing(monkeypatch):
    refund = pending_refund(paid_payment())
    gateway_answers(monkeypatch, signed(REFUND, {"code": "10000", "msg": "Success", "fund_change": "Y"}))
    with pytest.raises(ChannelProtocolError):
        payments.execute_refund({"refund_no": refund.refund_no})
    assert_refund_unchanged(refund)


def test_a_signed_charge_answer_about_another_order_records_no_payment(monkeypatch):
    """A renewal charge (the first period is paid by 支付并签约, never charged through the agreement)."""
    user = UserFactory()
    membership = join_vip(user, PlanFactory(price_fen=3000), auto_renew=True)
    play_until(membership.next_charge_at - timedelta(minutes=1))  # the reminders go out as usual
    gateway_answers(
        monkeypatch,
        signed(
            "alipay.trade.pay",
            {
                "code": "10000",
                "msg": "Success",
                "trade_no": "2026111111111111111111111111",
                "out_trade_no": "K-SOMEONE-ELSES",
                "total_amount": "30.00",
                "gmt_payment": "2026-12-01 10:00:00",
            },
        ),
    )
    clock.advance(seconds=120)
    assert renewals.renew_due_memberships() == 1
    assert (
        Payment.objects.filter(order__user=user).count() == 1
    )  # the first period's, nothing for the renewal
    assert Membership.objects.get(pk=membership.pk).period_index == 0


def test_a_signed_agreement_query_about_another_agreement_ends_nothing(monkeypatch):
    plan = PlanFactory(price_fen=3000)
    ours = join_vip(UserFactory(), plan, auto_renew=True).agreement
    other = join_vip(UserFactory(), plan, auto_renew=True).agreement
    gateway_answers(
        monkeypatch,
        signed(
            "alipay.user.agreement.query",
            {
                "code": "10000",
                "msg": "Success",
                "agreement_no": other.channel_agreement_no,
                "external_agreement_no": other.external_no,
                "status": "UNSIGN",
            },
        ),
    )
    check = cancellation.reconcile_agreement(agreement=ours)
    assert (check.channel_state, check.applied) == (AgreementState.UNKNOWN, False)
    ours.refresh_from_db()
    assert ours.status == Agreement.Status.ACTIVE and ours.membership.auto_renew is True


# --- WeChat Pay's refund answers are compared the same way -----------------------------------------------------------


def test_a_signed_wechat_refund_answer_about_another_order_confirms_nothing(monkeypatch):
    from kameng.core import http
    from kameng.sandbox import wechat_views

    def wechat_paid_payment() -> Payment:
        order = place_order(UserFactory(), stocked_product(keys=1, price_fen=3000), channel="wechat")
        pay_in_sandbox(order)
        return Payment.objects.get(order=order)

    ours, other = wechat_paid_payment(), wechat_paid_payment()
    refund = pending_refund(ours)
    answer = wechat_views._answer(  # signed with the platform key, as the sandbox (playing WeChat Pay) signs
        200,
        {
            "refund_id": "50300000000000000000000000000",
            "out_refund_no": refund.refund_no,
            "transaction_id": other.channel_trade_no,
            "out_trade_no": other.order.order_no,
            "status": "SUCCESS",
            "amount": {"refund": 3000, "total": 3000, "currency": "CNY"},
        },
    )
    reply = HttpReply(200, dict(answer.items()), answer.content)
    # The one place the adapter's APIv3 client calls out (wechat.v3.V3Client), as tests/conformance/wechat_fake.py.
    monkeypatch.setattr(http, "post", lambda url, **kwargs: reply)
    with pytest.raises(ChannelProtocolError):
        payments.execute_refund({"refund_no": refund.refund_no})
    assert_refund_unchanged(refund)
