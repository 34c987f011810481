"""The sandbox's Alipay gateway answers as Alipay documents: signed, with the public error codes for the common
parameters (https://opendocs.alipay.com/open/common/105806) and each API's business codes, refusing what Alipay
refuses; 周期扣款 deductions only inside the window of the signed schedule."""

import json
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from django.test import Client

from kameng.core import clock
from kameng.payments.channels.registry import get_channel
from kameng.protocols import alipay as alipay_protocol
from kameng.sandbox import keys
from kameng.sandbox.alipay_trades import planned_date
from kameng.sandbox.models import SandboxAgreement, SandboxDeduction, SandboxNotification, SandboxTrade
from kameng.sandbox.services import _alipay_agreement_notification

pytestmark = pytest.mark.django_db
GATEWAY = "/sandbox/alipay/gateway.do"


def call(method: str, biz) -> dict:
    """What the shop's Alipay client reads back: the signed answer, its signature checked."""
    return get_channel("alipay").call(method, biz)


def _common(method: str) -> dict[str, str]:
    return {
        "app_id": keys.ALIPAY_APP_ID,
        "method": method,
        "charset": "utf-8",
        "sign_type": "RSA2",
        "timestamp": clock.now().strftime("%Y-%m-%d %H:%M:%S"),
        "version": "1.0",
    }


def _post_raw(params: dict[str, str], method: str = "alipay.trade.refund") -> dict:
    reply = Client().post(GATEWAY, urlencode(params), content_type="application/x-www-form-urlencoded")
    return alipay_protocol.verify_response(
        reply.content.decode(), method, get_channel("alipay").config.alipay_public_key_pem
    )


def _signed(params: dict[str, str]) -> dict[str, str]:
    return alipay_protocol.sign_request(params, get_channel("alipay").config.app_private_key_pem)


# --- common parameters ----------------------------------------------------------------------------------------------


def test_a_call_with_a_signature_that_does_not_verify_is_refused_as_such():
    params = _signed(_common("alipay.trade.refund") | {"biz_content": '{"refund_amount":"1.00"}'})
    params["biz_content"] = '{"refund_amount":"9.00"}'  # altered after signing
    assert _post_raw(params) == {
        "code": "40002",
        "msg": "Invalid Arguments",
        "sub_code": "isv.invalid-signature",
        "sub_msg": "验签出错",
    }


@pytest.mark.parametrize(
    ("missing", "sub_code"),
    [
        ("app_id", "isv.missing-app-id"),
        ("sign", "isv.missing-signature"),
        ("timestamp", "isv.missing-timestamp"),
        ("version", "isv.missing-version"),
    ],
)
def test_a_missing_common_parameter_is_answered_40001_naming_it(missing, sub_code):
    params = _signed(_common("alipay.trade.refund") | {"biz_content": '{"refund_amount":"1.00"}'})
    del params[missing]
    answer = _post_raw(params)
    assert (answer["code"], answer["msg"], answer["sub_code"]) == (
        "40001",
        "Missing Required Arguments",
        sub_code,
    )


def test_a_method_the_sandbox_does_not_play_is_answered_invalid_method_40002():
    answer = call("alipay.trade.cancel", {"out_trade_no": "K1"})
    assert (answer["code"], answer["sub_code"]) == ("40002", "isv.invalid-method")


def test_a_server_call_sent_as_get_with_everything_in_the_query_string_is_answered():
    """python-alipay-sdk's server_api: urlopen(gateway + "?" + signed query)."""
    params = _signed(_common("alipay.user.agreement.query") | {"biz_content": '{"agreement_no":"20250404"}'})
    reply = Client().get(GATEWAY + "?" + urlencode(params))
    answer = alipay_protocol.verify_response(
        reply.content.decode(),
        "alipay.user.agreement.query",
        get_channel("alipay").config.alipay_public_key_pem,
    )
    assert answer["sub_code"] == "USER_AGREEMENT_NOT_EXIST"


def test_common_parameters_in_the_query_string_and_biz_content_in_the_body_are_read_together():
    """alipay-sdk-python's execute(): the common parameters and sign in the URL, biz_content in the form body."""
    params = _signed(_common("alipay.user.agreement.query") | {"biz_content": '{"agreement_no":"20250404"}'})
    body = {"biz_content": params.pop("biz_content")}
    reply = Client().post(
        GATEWAY + "?" + urlencode(params), urlencode(body), content_type="application/x-www-form-urlencoded"
    )
    answer = alipay_protocol.verify_response(
        reply.content.decode(),
        "alipay.user.agreement.query",
        get_channel("alipay").config.alipay_public_key_pem,
    )
    assert answer["sub_code"] == "USER_AGREEMENT_NOT_EXIST"


# --- biz_content: the model's fields, their types, the required ones ------------------------------------------------


@pytest.mark.parametrize("biz", [["K1"], 7, "K1"])
@pytest.mark.parametrize(
    ("method", "prefix"),
    [
        ("alipay.trade.refund", "ACQ."),
        ("alipay.trade.pay", "ACQ."),
        ("alipay.trade.precreate", "ACQ."),
        ("alipay.user.agreement.unsign", ""),
        ("alipay.user.agreement.query", ""),
    ],
)
def test_a_biz_content_that_is_not_a_json_object_is_answered_invalid_parameter(method, prefix, biz):
    answer = call(method, biz)
    assert (answer["code"], answer["sub_code"]) == ("40004", f"{prefix}INVALID_PARAMETER")


def test_a_refund_without_an_amount_is_answered_invalid_parameter_naming_the_field():
    answer = call("alipay.trade.refund", {"out_trade_no": "K1"})
    assert (answer["code"], answer["sub_code"], answer["sub_msg"]) == (
        "40004",
        "ACQ.INVALID_PARAMETER",
        "参数无效:缺少必选参数 refund_amount",
    )


def test_a_field_the_model_does_not_have_is_refused():
    answer = call("alipay.trade.refund", {"out_trade_no": "K1", "refund_amount": "1.00", "refund_amout": "1"})
    assert (answer["sub_code"], answer["sub_msg"]) == (
        "ACQ.INVALID_PARAMETER",
        "参数无效:未知参数 refund_amout",
    )


def test_a_field_of_the_wrong_json_type_is_refused():
    biz = {"out_trade_no": "K1", "total_amount": "1.00", "subject": "x", "agreement_params": "2025000"}
    answer = call("alipay.trade.pay", biz | {"product_code": "CYCLE_PAY_AUTH"})
    assert (answer["sub_code"], answer["sub_msg"]) == (
        "ACQ.INVALID_PARAMETER",
        "参数无效:agreement_params 类型错误,应为 object",
    )


def test_a_nested_field_the_model_does_not_have_is_refused():
    biz = {"out_trade_no": "K1", "total_amount": "1.00", "subject": "x", "product_code": "CYCLE_PAY_AUTH"}
    answer = call("alipay.trade.pay", biz | {"agreement_params": {"agreement_no": "1", "agrement_no": "1"}})
    assert answer["sub_msg"] == "参数无效:未知参数 agreement_params.agrement_no"


@pytest.mark.parametrize("amount", ["1.234", "-1.00", "1e3", "abc", "0.00", "1,00"])
def test_an_amount_outside_the_format_or_below_a_fen_is_refused(amount):
    answer = call("alipay.trade.precreate", {"out_trade_no": "K1", "total_amount": amount, "subject": "x"})
    assert (answer["code"], answer["sub_code"]) == ("40004", "ACQ.INVALID_PARAMETER")


def test_an_amount_above_alipays_limit_is_total_fee_exceed():
    answer = call(
        "alipay.trade.precreate", {"out_trade_no": "K1", "total_amount": "100000000.01", "subject": "x"}
    )
    assert answer["sub_code"] == "ACQ.TOTAL_FEE_EXCEED"


def test_an_out_trade_no_beyond_letters_digits_and_underscore_is_refused():
    answer = call("alipay.trade.precreate", {"out_trade_no": "K-1", "total_amount": "1.00", "subject": "x"})
    assert answer["sub_code"] == "ACQ.INVALID_PARAMETER"


# --- 当面付 precreate ------------------------------------------------------------------------------------------------


def test_precreate_answers_a_qr_code_whose_page_pays_the_trade_and_notifies():
    answer = call("alipay.trade.precreate", {"out_trade_no": "K7", "total_amount": "9.90", "subject": "卡密"})
    assert answer["code"] == "10000" and answer["out_trade_no"] == "K7"
    page = Client().get(urlsplit(answer["qr_code"]).path)
    assert page.status_code == 200 and "9.90" in page.content.decode()
    Client().post("/sandbox/pay/K7")
    assert SandboxTrade.objects.get(out_trade_no="K7").status == SandboxTrade.Status.PAID
    assert SandboxNotification.objects.filter(trade__out_trade_no="K7", event="trade_paid").count() == 1


def test_precreate_of_a_paid_trade_is_trade_has_success():
    call("alipay.trade.precreate", {"out_trade_no": "K8", "total_amount": "1.00", "subject": "x"})
    Client().post("/sandbox/pay/K8")
    answer = call("alipay.trade.precreate", {"out_trade_no": "K8", "total_amount": "1.00", "subject": "x"})
    assert answer["sub_code"] == "ACQ.TRADE_HAS_SUCCESS"


# --- 周期扣款: the signed schedule -----------------------------------------------------------------------------------


def _agreement(*, execute_in_days: int, single_fen: int = 1500, period_type="MONTH", period=1, **more):
    today = clock.now().date()
    return SandboxAgreement.objects.create(
        channel="alipay",
        external_no=f"E{SandboxAgreement.objects.count()}",
        agreement_no=f"2026{SandboxAgreement.objects.count():016d}",
        status=SandboxAgreement.Status.NORMAL,
        period_months=period if period_type == "MONTH" else 0,
        single_amount_fen=single_fen,
        next_deduct_date=today + timedelta(days=execute_in_days),
        period_type=period_type,
        period=period,
        execute_date=today + timedelta(days=execute_in_days),
        notify_url="http://127.0.0.1:9/notify",
        created_at=clock.now(),
        signed_at=clock.now(),
        **more,
    )


def _deduct(agreement: SandboxAgreement, out_trade_no: str, amount: str = "15.00") -> dict:
    return call(
        "alipay.trade.pay",
        {
            "out_trade_no": out_trade_no,
            "total_amount": amount,
            "subject": "VIP",
            "product_code": "CYCLE_PAY_AUTH",
            "agreement_params": {"agreement_no": agreement.agreement_no},
        },
    )


@pytest.mark.parametrize("days_to_planned", [0, 1, 5])
def test_a_deduction_from_five_days_before_the_planned_date_up_to_it_succeeds(days_to_planned):
    agreement = _agreement(execute_in_days=days_to_planned)
    answer = _deduct(agreement, "R1")
    assert (answer["code"], answer["total_amount"]) == ("10000", "15.00")
    deduction = SandboxDeduction.objects.get(agreement=agreement)
    assert deduction.planned_date == agreement.execute_date


@pytest.mark.parametrize("days_to_planned", [6, 30, -1])
def test_a_deduction_outside_the_window_is_cycle_pay_date_not_match(days_to_planned):
    agreement = _agreement(execute_in_days=days_to_planned)
    answer = _deduct(agreement, "R1")
    assert (answer["code"], answer["sub_code"]) == ("40004", "ACQ.CYCLE_PAY_DATE_NOT_MATCH")
    assert not SandboxTrade.objects.filter(out_trade_no="R1").exists()


def test_a_second_deduction_for_the_same_planned_date_is_refused():
    agreement = _agreement(execute_in_days=2)
    assert _deduct(agreement, "R1")["code"] == "10000"
    answer = _deduct(agreement, "R2")
    assert answer["sub_code"] == "ACQ.CYCLE_PAY_DATE_NOT_MATCH"
    assert SandboxDeduction.objects.filter(agreement=agreement).count() == 1


def test_the_same_deduction_asked_again_is_answered_again_and_taken_once():
    agreement = _agreement(execute_in_days=2)
    first, again = _deduct(agreement, "R1"), _deduct(agreement, "R1")
    assert first["trade_no"] == again["trade_no"]
    assert SandboxDeduction.objects.filter(agreement=agreement).count() == 1


def test_after_a_success_the_next_planned_date_is_one_period_on():
    agreement = _agreement(execute_in_days=3, period_type="DAY", period=7)
    _deduct(agreement, "R1")
    agreement.refresh_from_db()
    assert (
        agreement.next_deduct_date == planned_date(agreement, 1) == agreement.execute_date + timedelta(days=7)
    )


def test_a_deduction_above_single_amount_is_refused():
    answer = _deduct(_agreement(execute_in_days=0, single_fen=1500), "R1", amount="15.01")
    assert answer["sub_code"] == "ACQ.CYCLE_PAY_SINGLE_FEE_EXCEED"


def test_a_deduction_on_a_terminated_agreement_is_refused():
    agreement = _agreement(execute_in_days=0)
    agreement.status = SandboxAgreement.Status.UNSIGN
    agreement.save()
    assert _deduct(agreement, "R1")["sub_code"] == "ACQ.AGREEMENT_INVALID"


def test_a_deduction_on_an_agreement_never_signed_is_refused():
    agreement = _agreement(execute_in_days=0)
    agreement.status = SandboxAgreement.Status.TEMP
    agreement.save()
    assert _deduct(agreement, "R1")["sub_code"] == "ACQ.AGREEMENT_STATUS_NOT_NORMAL"


def test_a_deduction_beyond_total_payments_is_refused():
    agreement = _agreement(execute_in_days=0, period_type="DAY", period=7, total_payments=1)
    _deduct(agreement, "R1")
    agreement.execute_date -= timedelta(days=7)  # the next planned date is today again
    agreement.save()
    assert _deduct(agreement, "R2")["sub_code"] == "ACQ.CYCLE_PAY_TOTAL_TIMES_EXCEED"


def test_a_payment_other_than_a_cycle_deduction_is_access_forbidden():
    biz = {
        "out_trade_no": "K1",
        "total_amount": "1.00",
        "subject": "x",
        "product_code": "FACE_TO_FACE_PAYMENT",
    }
    assert call("alipay.trade.pay", biz | {"scene": "bar_code", "auth_code": "28"})["sub_code"] == (
        "ACQ.ACCESS_FORBIDDEN"
    )


@pytest.mark.parametrize("method", ["alipay.user.agreement.query", "alipay.user.agreement.unsign"])
def test_an_unknown_agreement_is_answered_with_the_agreement_error_unprefixed(method):
    answer = call(method, {"agreement_no": "20250000000000000404"})
    assert (answer["code"], answer["sub_code"]) == ("40004", "USER_AGREEMENT_NOT_EXIST")


# --- sign requests: pay-and-sign and page.sign ---------------------------------------------------------------------


def _rule(**change) -> dict:
    return {
        "period_type": "MONTH",
        "period": 1,
        "execute_time": "2027-01-28",
        "single_amount": "15.00",
    } | change


def _pay_and_sign(out_trade_no: str, rule: dict, method: str = "alipay.trade.wap.pay"):
    biz = {
        "out_trade_no": out_trade_no,
        "total_amount": "15.00",
        "subject": "VIP",
        "product_code": "CYCLE_PAY_AUTH",
        "agreement_sign_params": {
            "personal_product_code": "CYCLE_PAY_AUTH_P",
            "sign_scene": "INDUSTRY|DIGITAL_MEDIA",
            "external_agreement_no": f"A{out_trade_no}",
            "external_logon_id": "member1",
            "period_rule_params": rule,
        },
    }
    params = _common(method) | {"notify_url": "http://127.0.0.1:9/notify", "biz_content": json.dumps(biz)}
    return Client().get(GATEWAY + "?" + urlencode(_signed(params)))


@pytest.mark.parametrize("method", ["alipay.trade.wap.pay", "alipay.trade.page.pay"])
def test_paying_a_pay_and_sign_cashier_signs_the_agreement_and_notifies_after_the_trade(method):
    assert _pay_and_sign("K9", _rule(), method).status_code == 200
    agreement = SandboxAgreement.objects.get(external_no="AK9")
    assert agreement.status == SandboxAgreement.Status.TEMP
    Client().post("/sandbox/pay/K9")
    agreement.refresh_from_db()
    assert agreement.status == SandboxAgreement.Status.NORMAL
    assert (agreement.period_type, agreement.period, agreement.execute_date.isoformat()) == (
        "MONTH",
        1,
        "2027-01-28",
    )
    events = list(SandboxNotification.objects.order_by("id").values_list("event", flat=True))
    assert events == ["trade_paid", "agreement_signed"]


@pytest.mark.parametrize(
    ("rule", "why"),
    [
        (_rule(period_type="DAY", period=6), "period_type 为 DAY 时 period 最少为 7"),
        (_rule(period_type="WEEK"), "period_type 枚举值为 DAY 和 MONTH"),
        (_rule(execute_time="2027-01-29"), "不允许传28日之后的日期"),
        (_rule(execute_time="2027/01/28"), "execute_time 格式为 yyyy-MM-dd"),
        (_rule(single_amount="15.001"), "single_amount 格式错误"),
        ({k: v for k, v in _rule().items() if k != "single_amount"}, "缺少必选参数"),
    ],
)
def test_a_sign_request_with_a_rule_alipay_refuses_shows_the_error_and_opens_nothing(rule, why):
    page = _pay_and_sign("K9", rule)
    assert page.status_code == 400 and why in page.content.decode()
    assert not SandboxAgreement.objects.exists() and not SandboxTrade.objects.exists()


def test_a_day_period_of_seven_is_signed():
    assert (
        _pay_and_sign("K9", _rule(period_type="DAY", period=7, execute_time="2027-01-31")).status_code == 200
    )


def test_the_sign_notification_carries_no_empty_value_and_verifies_with_python_alipay_sdk():
    from alipay import AliPay  # python-alipay-sdk

    agreement = _agreement(execute_in_days=0)
    note = SandboxNotification.objects.create(event="agreement_signed", agreement=agreement, event_id="N1")
    params = dict(parse_qsl(_alipay_agreement_notification(note)[1].decode(), keep_blank_values=True))
    assert "" not in params.values()
    sdk = AliPay(
        appid=keys.ALIPAY_APP_ID,
        app_notify_url=None,
        app_private_key_string=get_channel("alipay").config.app_private_key_pem,
        alipay_public_key_string=get_channel("alipay").config.alipay_public_key_pem,
    )
    signature = params.pop("sign")
    assert sdk.verify(params, signature)


@pytest.mark.parametrize("period", ["²", "١٢", "9" * 40])
def test_a_period_that_is_not_plain_digits_is_refused_not_a_server_error(period):
    """str.isdigit() says yes to "²" and Arabic-Indic digits; int() then fails or reads another number."""
    page = _pay_and_sign("K7", _rule(period=period))
    assert page.status_code < 500
    assert not SandboxAgreement.objects.filter(external_no="AK7").exists()
