"""python-alipay-sdk (3.4.0) drives the sandbox's Alipay gateway under gunicorn, over real HTTP, for every Alipay call
the shop makes: the SDK signs and the sandbox verifies; the sandbox answers and notifies and the SDK's own verifier
accepts (answers: the SDK checks them in server_api; notifications: captured at a loopback notify URL and checked
with AliPay.verify). Then the refusals Alipay documents, one per rule, as the SDK receives them."""

from urllib.parse import parse_qsl

import pytest

from kameng.sandbox.models import SandboxAgreement
from tests.conformance.alipay_support import (
    NotifyListener,
    get,
    pay_and_sign_biz,
    pay_at_cashier,
    post_form,
    python_alipay_sdk,
    today_plus,
    verified_by_python_alipay_sdk,
)

pytestmark = [pytest.mark.postgres]


@pytest.fixture
def listener():
    notify = NotifyListener()
    yield notify
    notify.close()


@pytest.fixture
def sdk(gunicorn_server):
    return python_alipay_sdk(gunicorn_server)


def _signed_agreement(base, sdk, listener, out_trade_no: str, *, execute_in_days: int) -> SandboxAgreement:
    """支付并签约 through the SDK's wap.pay link, paid at the cashier: the agreement is signed by paying."""
    query = sdk.client_api(
        "alipay.trade.wap.pay",
        biz_content=pay_and_sign_biz(out_trade_no, execute_time=today_plus(execute_in_days)),
        notify_url=listener.url,
    )
    assert get(f"{sdk._gateway}?{query}")[0] == 200
    pay_at_cashier(base, out_trade_no)
    listener.wait_for("dut_user_sign")
    return SandboxAgreement.objects.get(external_no=f"A{out_trade_no}", status="NORMAL")


def _deduct(sdk, listener, agreement: SandboxAgreement, out_trade_no: str, amount: str = "15.00") -> dict:
    return sdk.server_api(
        "alipay.trade.pay",
        biz_content={
            "out_trade_no": out_trade_no,
            "total_amount": amount,
            "subject": "VIP 续费",
            "product_code": "CYCLE_PAY_AUTH",
            "agreement_params": {"agreement_no": agreement.agreement_no},
        },
        notify_url=listener.url,
    )


# --- the calls the shop makes, both directions ----------------------------------------------------------------------


def test_wap_pay_link_opens_the_cashier_and_its_payment_notification_verifies(gunicorn_server, sdk, listener):
    query = sdk.api_alipay_trade_wap_pay(
        subject="点卡 100 元", out_trade_no="SDK1", total_amount="99.50", notify_url=listener.url
    )
    status, page = get(f"{sdk._gateway}?{query}")
    assert status == 200 and "99.50" in page
    pay_at_cashier(gunicorn_server, "SDK1")
    [note] = listener.wait_for("trade_status_sync")
    assert (note["out_trade_no"], note["total_amount"], note["trade_status"]) == (
        "SDK1",
        "99.50",
        "TRADE_SUCCESS",
    )
    assert verified_by_python_alipay_sdk(sdk, note)


def test_precreate_answers_a_qr_code_whose_payment_notification_verifies(gunicorn_server, sdk, listener):
    answer = sdk.api_alipay_trade_precreate(
        subject="点卡", out_trade_no="SDK2", total_amount=12.5, notify_url=listener.url
    )
    assert (answer["code"], answer["out_trade_no"]) == ("10000", "SDK2")
    status, page = get(answer["qr_code"])
    assert status == 200 and "12.50" in page
    pay_at_cashier(gunicorn_server, "SDK2")
    [note] = listener.wait_for("trade_status_sync")
    assert verified_by_python_alipay_sdk(sdk, note)


def test_refund_of_a_paid_trade_is_answered_signed(gunicorn_server, sdk, listener):
    sdk.api_alipay_trade_precreate(
        subject="点卡", out_trade_no="SDK3", total_amount="30.00", notify_url=listener.url
    )
    pay_at_cashier(gunicorn_server, "SDK3")
    answer = sdk.api_alipay_trade_refund("10.00", out_trade_no="SDK3", out_request_no="SDK3R1")
    assert (answer["code"], answer["refund_fee"], answer["fund_change"]) == ("10000", "10.00", "Y")


def test_a_server_call_posted_as_a_form_is_answered_as_the_get(gunicorn_server, sdk):
    """The same signed parameters the SDK puts in its GET URL, posted as a form body instead."""
    signed = sdk.sign_data(
        sdk.build_body("alipay.user.agreement.query", {"agreement_no": "20260000000000000404"})
    )
    status, text = post_form(sdk._gateway, dict(parse_qsl(signed)))
    answer = sdk._verify_and_return_sync_response(text, "alipay_user_agreement_query_response")
    assert (status, answer["sub_code"]) == (200, "USER_AGREEMENT_NOT_EXIST")


def test_pay_and_sign_signs_the_agreement_and_both_notifications_verify(gunicorn_server, sdk, listener):
    _signed_agreement(gunicorn_server, sdk, listener, "SDK4", execute_in_days=2)
    [paid] = listener.wait_for("trade_status_sync")
    [signed] = listener.wait_for("dut_user_sign")
    assert listener.received.index(paid) < listener.received.index(
        signed
    )  # the trade first, then the agreement
    assert "" not in signed.values() and "unsign_time" not in signed
    assert verified_by_python_alipay_sdk(sdk, paid) and verified_by_python_alipay_sdk(sdk, signed)


def test_a_deduction_inside_the_window_succeeds_and_notifies(gunicorn_server, sdk, listener):
    agreement = _signed_agreement(gunicorn_server, sdk, listener, "SDK5", execute_in_days=2)
    answer = _deduct(sdk, listener, agreement, "SDK5D1")
    assert (answer["code"], answer["total_amount"]) == ("10000", "15.00")
    notes = [n for n in listener.wait_for("trade_status_sync", count=2) if n["out_trade_no"] == "SDK5D1"]
    assert len(notes) == 1 and verified_by_python_alipay_sdk(sdk, notes[0])


def test_page_sign_then_query_then_unsign_and_its_notification_verifies(gunicorn_server, sdk, listener):
    query = sdk.client_api(
        "alipay.user.agreement.page.sign",
        biz_content={
            "personal_product_code": "CYCLE_PAY_AUTH_P",
            "product_code": "CYCLE_PAY_AUTH",
            "sign_scene": "INDUSTRY|DIGITAL_MEDIA",
            "external_agreement_no": "SDKSIGN6",
            "access_params": {"channel": "ALIPAYAPP"},
            "period_rule_params": {
                "period_type": "MONTH",
                "period": 1,
                "execute_time": "2027-01-28",
                "single_amount": "15.00",
            },
        },
        notify_url=listener.url,
    )
    assert get(f"{sdk._gateway}?{query}")[0] == 200
    post_form(f"{gunicorn_server}/sandbox/agreements/SDKSIGN6/sign", {"channel": "alipay"})
    [signed] = listener.wait_for("dut_user_sign")
    assert verified_by_python_alipay_sdk(sdk, signed)
    answer = sdk.server_api("alipay.user.agreement.query", {"external_agreement_no": "SDKSIGN6"})
    assert (answer["code"], answer["status"], answer["agreement_no"]) == (
        "10000",
        "NORMAL",
        signed["agreement_no"],
    )
    answer = sdk.server_api("alipay.user.agreement.unsign", {"agreement_no": signed["agreement_no"]})
    assert answer["code"] == "10000"
    [unsigned] = listener.wait_for("dut_user_unsign")
    assert unsigned["status"] == "UNSIGN" and unsigned["unsign_time"]
    assert verified_by_python_alipay_sdk(sdk, unsigned)


# --- refusals, one per documented rule ------------------------------------------------------------------------------


def test_a_field_the_model_does_not_have_is_refused(sdk):
    answer = sdk.server_api(
        "alipay.trade.refund", {"out_trade_no": "X1", "refund_amount": "1.00", "refund_fe": 1}
    )
    assert (answer["code"], answer["sub_code"]) == ("40004", "ACQ.INVALID_PARAMETER")


def test_a_field_of_the_wrong_type_is_refused(sdk):
    answer = sdk.server_api(
        "alipay.trade.precreate", {"out_trade_no": "X2", "total_amount": "1.00", "subject": {"name": "点卡"}}
    )
    assert (answer["code"], answer["sub_code"]) == ("40004", "ACQ.INVALID_PARAMETER")


def test_a_deduction_before_the_window_is_refused(gunicorn_server, sdk, listener):
    early = _signed_agreement(gunicorn_server, sdk, listener, "SDK7", execute_in_days=6)
    assert _deduct(sdk, listener, early, "SDK7D1")["sub_code"] == "ACQ.CYCLE_PAY_DATE_NOT_MATCH"


def test_a_deduction_above_single_amount_is_refused(gunicorn_server, sdk, listener):
    due = _signed_agreement(gunicorn_server, sdk, listener, "SDK8", execute_in_days=0)
    assert (
        _deduct(sdk, listener, due, "SDK8D1", amount="15.01")["sub_code"] == "ACQ.CYCLE_PAY_SINGLE_FEE_EXCEED"
    )


def test_a_second_deduction_in_the_same_window_is_refused(gunicorn_server, sdk, listener):
    due = _signed_agreement(gunicorn_server, sdk, listener, "SDK9", execute_in_days=1)
    assert _deduct(sdk, listener, due, "SDK9D1")["code"] == "10000"
    assert _deduct(sdk, listener, due, "SDK9D2")["sub_code"] == "ACQ.CYCLE_PAY_DATE_NOT_MATCH"
