"""The sandbox's WeChat 周期扣费 keeps WeChat's documented rules: H5 纯签约, the 12 h first-signing charge, the
预扣费通知 windows (waiting days, chargeable days, 07:00–22:00), at most the notified amount, one success per cycle and
per day, and refuses unknown, missing or mistyped fields. Requests are built and signed by wechatpy's functions.

Pages: wechatpay-apiv3/wechatpay-skills wechatpay-deduction-service/references/1-商户/ 接入指南/开发参数与业务规则.md
(section 四 07:00–22:00, one success a day; section 五 the 12 h rule) and 示例代码/2-代扣扣款/预扣费通知.md
(windows, count 1–3, default 7 days, one success per cycle, RESOURCE_ALREADY_EXISTS, CONTRACT_NOT_EXIST).
"""

import json

import pytest
import xmltodict
from django.test import Client, override_settings
from wechatpy.pay.utils import _check_signature, calculate_signature_hmac

from kameng.sandbox import agreements, wechat_notifications
from kameng.sandbox.models import SandboxAgreement, SandboxNotification, SandboxTrade
from kameng.sandbox.tests.wechat_client import (
    MERCHANT_NOTIFY,
    apiv2_key,
    charge_fields,
    h5_sign_url,
    move_to,
    v2_post,
    v3,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _signed_contract(code: str = "K100001", *, member=None) -> SandboxAgreement:
    answer = xmltodict.parse(Client().get(h5_sign_url(code)).content)["xml"]
    assert answer["result_code"] == "SUCCESS", answer
    contract = SandboxAgreement.objects.get(channel="wechat", external_no=code)
    return agreements.sign_agreement(agreement=contract, member_ref=str(member.pk) if member else "")


def _charge(contract: SandboxAgreement, out_trade_no: str, fee: int = 1500, **extra) -> dict:
    return v2_post("pay/pappayapply", charge_fields(contract.agreement_no, out_trade_no, fee, **extra))


def _notify(contract_id: str, amount: int = 1500, count: int | None = 3, **extra):
    body = {
        "mchid": "1900000109",
        "appid": "wxd678efh567hg6787",
        "estimated_amount": {"amount": amount, "currency": "CNY"},
        **extra,
    }
    if count is not None:
        body["deduct_duration"] = {"count": count, "unit": "DAY"}
    return v3("POST", f"/v3/papay/contracts/{contract_id}/notify", body)


def _refused_as(answer: dict, code: str, words: str = "") -> None:
    assert (answer["result_code"], answer["err_code"]) == ("FAIL", code), answer
    assert words in answer["err_code_des"]


@pytest.fixture
def contract() -> SandboxAgreement:
    move_to(1, 9)
    return _signed_contract()


# --- signing ------------------------------------------------------------------------------------------------------


def test_h5_signing_answers_the_signing_pages_redirect_url_and_the_contract_waits_for_the_member():
    answer = xmltodict.parse(Client().get(h5_sign_url("K1")).content)["xml"]
    assert answer["redirect_url"].endswith("/sandbox/agreements/K1/sign?channel=wechat")
    assert _check_signature_any(answer)
    query = v2_post("papay/querycontract", _contract_query(contract_code="K1", plan_id=10001))
    assert query["contract_state"] == "9"  # 签约进行中


def test_h5_signing_is_signed_hmac_sha256_by_default_so_an_md5_sign_without_sign_type_is_refused():
    answer = xmltodict.parse(Client().get(h5_sign_url("K2", sign_type="MD5")).content)["xml"]
    assert answer["return_code"] == "FAIL"
    assert not SandboxAgreement.objects.filter(external_no="K2").exists()


def test_the_members_confirmation_signs_the_contract_and_owes_the_v2_add_notification(contract):
    note = SandboxNotification.objects.get(agreement=contract, event="agreement_signed")
    sent = wechat_notifications.outgoing(note)
    fields = dict(xmltodict.parse(sent.body)["xml"])
    assert sent.url == MERCHANT_NOTIFY
    assert (fields["change_type"], fields["contract_id"], fields["plan_id"]) == (
        "ADD",
        contract.agreement_no,
        "10001",
    )
    # Signed the way the signing request was (HMAC-SHA256, with sign_type), over every field.
    sign = fields.pop("sign")
    assert sign == calculate_signature_hmac(fields, apiv2_key())


def test_a_signed_contract_reads_state_0_by_contract_id(contract):
    query = v2_post("papay/querycontract", _contract_query(contract_id=contract.agreement_no))
    assert (query["contract_state"], query["contract_code"], query["plan_id"]) == ("0", "K100001", "10001")
    assert _check_signature(query, apiv2_key())


# --- the first charge, within 12 hours ------------------------------------------------------------------------


def test_within_12_hours_of_the_first_signing_a_charge_executes_without_a_notice(contract):
    move_to(0, 15)
    assert _charge(contract, "R0001")["result_code"] == "SUCCESS"
    trade = SandboxTrade.objects.get(out_trade_no="R0001")
    assert (trade.status, trade.trade_type, trade.notice) == ("paid", "PAP", None)
    query = v2_post("pay/paporderquery", _order_query(out_trade_no="R0001"))
    assert (query["trade_state"], query["total_fee"], query["contract_id"]) == (
        "SUCCESS",
        "1500",
        contract.agreement_no,
    )


def test_the_charge_notification_verifies_with_wechatpys_payment_result_check(contract):
    from wechatpy.pay import WeChatPay

    _charge(contract, "R0002")
    note = SandboxNotification.objects.get(trade__out_trade_no="R0002")
    sent = wechat_notifications.outgoing(note)
    parsed = WeChatPay("wxd678efh567hg6787", apiv2_key(), "1900000109").parse_payment_result(sent.body)
    assert (parsed["result_code"], parsed["total_fee"], parsed["contract_id"]) == (
        "SUCCESS",
        1500,
        contract.agreement_no,
    )


def test_the_same_out_trade_no_again_is_charged_once(contract):
    _charge(contract, "R0003")
    _refused_as(_charge(contract, "R0003"), "ORDERPAID")
    assert SandboxTrade.objects.filter(out_trade_no="R0003").count() == 1


# --- the rules, one refusal each ------------------------------------------------------------------------------


def test_after_12_hours_a_charge_without_a_notice_is_refused(contract):
    move_to(1, 9)
    _refused_as(_charge(contract, "R0101"), "RULELIMIT", "未发送预扣费通知")


def test_a_charge_on_a_waiting_day_is_refused(contract):
    move_to(1, 9)
    assert _notify(contract.agreement_no).status_code == 204
    move_to(1, 10)  # the day after the notice: still 扣费等待期
    _refused_as(_charge(contract, "R0102"), "RULELIMIT", "等待期")


def test_a_charge_after_the_chargeable_days_is_refused(contract):
    move_to(1, 9)
    _notify(contract.agreement_no, count=3)
    move_to(5, 9)  # notice day + 2 waiting days + 3 chargeable days: the day after the last
    _refused_as(_charge(contract, "R0103"), "RULELIMIT", "可扣费期已过")


def test_a_charge_at_22_30_is_refused(contract):
    move_to(1, 9)
    _notify(contract.agreement_no)
    move_to(2, 22, 30)
    _refused_as(_charge(contract, "R0104"), "RULELIMIT", "7:00-22:00")


def test_a_charge_above_the_notified_amount_is_refused(contract):
    move_to(1, 9)
    _notify(contract.agreement_no, amount=1500)
    move_to(2, 9)
    _refused_as(_charge(contract, "R0105", fee=1501), "RULELIMIT", "预扣费通知的金额")


def test_a_second_success_in_a_cycle_is_refused(contract):
    move_to(1, 9)
    _notify(contract.agreement_no)
    move_to(2, 9)
    assert _charge(contract, "R0106")["result_code"] == "SUCCESS"
    move_to(1, 9)
    _refused_as(_charge(contract, "R0107"), "RULELIMIT", "一个扣费周期内只能扣款成功一次")


def test_a_second_success_on_the_same_day_is_refused(contract):
    move_to(0, 10)
    assert _charge(contract, "R0108")["result_code"] == "SUCCESS"  # the first, within 12 h
    _refused_as(_charge(contract, "R0109"), "RULELIMIT", "每日")


def test_a_notice_at_06_59_is_refused(contract):
    move_to(1, 6, 59)
    reply = _notify(contract.agreement_no)
    assert (reply.status_code, reply.json()["code"]) == (403, "RULELIMIT")


def test_a_charge_inside_the_chargeable_days_at_the_notified_amount_succeeds(contract):
    move_to(1, 9)
    _notify(contract.agreement_no, count=3)
    move_to(4, 21, 59)  # the last chargeable day, one minute before 22:00
    assert _charge(contract, "R0110")["result_code"] == "SUCCESS"


def test_a_notice_without_deduct_duration_opens_the_documented_default_of_7_days(contract):
    move_to(1, 9)
    assert _notify(contract.agreement_no, count=None).status_code == 204
    move_to(8, 9)  # notice day + 2 + the 7th chargeable day
    assert _charge(contract, "R0111")["result_code"] == "SUCCESS"


def test_a_second_notice_while_one_runs_is_resource_already_exists(contract):
    move_to(1, 9)
    _notify(contract.agreement_no)
    reply = _notify(contract.agreement_no)
    assert (reply.status_code, reply.json()["code"]) == (400, "RESOURCE_ALREADY_EXISTS")


def test_a_notice_for_an_unknown_contract_is_contract_not_exist():
    move_to(1, 9)
    reply = _notify("Wx00000000000000000000000000")
    assert (reply.status_code, reply.json()["code"]) == (404, "CONTRACT_NOT_EXIST")


@pytest.mark.parametrize("count", [0, 4])
def test_a_notice_for_other_than_1_to_3_days_is_a_param_error(contract, count):
    move_to(1, 9)
    reply = _notify(contract.agreement_no, count=count)
    assert (reply.status_code, reply.json()["code"]) == (400, "PARAM_ERROR")


def test_a_notice_with_an_unknown_field_is_a_param_error(contract):
    move_to(1, 9)
    reply = _notify(contract.agreement_no, out_trade_no="R1")
    assert (reply.status_code, reply.json()["code"]) == (400, "PARAM_ERROR")


def test_a_notice_with_the_amount_as_text_is_a_param_error(contract):
    move_to(1, 9)
    body = {"mchid": "1900000109", "appid": "wxd678efh567hg6787", "estimated_amount": {"amount": "1500"}}
    reply = v3("POST", f"/v3/papay/contracts/{contract.agreement_no}/notify", body)
    assert (reply.status_code, reply.json()["code"]) == (400, "PARAM_ERROR")


def test_a_charge_with_an_unknown_field_is_a_param_error(contract):
    _refused_as(_charge(contract, "R0201", transaction_notify_url=MERCHANT_NOTIFY), "PARAM_ERROR")


def test_a_charge_of_a_fractional_total_fee_is_a_param_error(contract):
    answer = v2_post("pay/pappayapply", charge_fields(contract.agreement_no, "R0202", "15.00"))
    _refused_as(answer, "PARAM_ERROR", "total_fee")


def test_a_contract_display_account_with_an_emoji_is_a_param_error():
    answer = xmltodict.parse(Client().get(h5_sign_url("K4", contract_display_account="会员😀")).content)[
        "xml"
    ]
    assert (answer["result_code"], answer["err_code"]) == ("FAIL", "PARAM_ERROR")


def test_an_out_trade_no_longer_than_32_characters_is_a_param_error(contract):
    _refused_as(_charge(contract, "R" * 33), "PARAM_ERROR", "out_trade_no")


def test_a_charge_with_another_merchants_key_is_refused_unsigned(contract):
    fields = charge_fields(contract.agreement_no, "R0203", 1500)
    body = "<xml>" + "".join(f"<{k}>{v}</{k}>" for k, v in fields.items()) + "<sign>00</sign></xml>"
    reply = Client().post("/sandbox/wechat/pay/pappayapply", data=body, content_type="text/xml")
    assert xmltodict.parse(reply.content)["xml"]["return_code"] == "FAIL"
    assert not SandboxTrade.objects.filter(out_trade_no="R0203").exists()


def test_closeorder_of_a_paid_charge_is_orderpaid(contract):
    _charge(contract, "R0401")
    _refused_as(v2_post("pay/closeorder", _order_query(out_trade_no="R0401")), "ORDERPAID")


def test_closeorder_of_a_failed_charge_is_orderclosed_for_it_closed_itself(contract):
    contract.balance_short = True
    contract.save(update_fields=["balance_short"])
    _charge(contract, "R0402")
    _refused_as(v2_post("pay/closeorder", _order_query(out_trade_no="R0402")), "ORDERCLOSED")


# --- failure, termination ------------------------------------------------------------------------------------


def test_a_payer_short_of_balance_is_accepted_then_failed_by_notification_and_the_order_closes(contract):
    contract.balance_short = True
    contract.save(update_fields=["balance_short"])
    assert _charge(contract, "R0301")["result_code"] == "SUCCESS"  # 受理 only
    note = SandboxNotification.objects.get(trade__out_trade_no="R0301")
    fields = dict(xmltodict.parse(wechat_notifications.outgoing(note).body)["xml"])
    assert (fields["result_code"], fields["err_code"]) == ("FAIL", "NOTENOUGH")
    assert _check_signature(fields, apiv2_key())
    assert v2_post("pay/paporderquery", _order_query(out_trade_no="R0301"))["trade_state"] == "CLOSED"
    _refused_as(_charge(contract, "R0301"), "ORDERCLOSED")


@override_settings(KAMENG_SANDBOX_WECHAT_TERMINATION_URL="https://merchant.example/wxpay/terminated")
def test_the_merchants_termination_goes_to_the_templates_url_as_mode_3(contract):
    answer = v2_post(
        "papay/deletecontract",
        {**_contract_query(contract_id=contract.agreement_no), "contract_termination_remark": "会员取消"},
    )
    assert answer["result_code"] == "SUCCESS"
    sent = wechat_notifications.outgoing(
        SandboxNotification.objects.get(agreement=contract, event="agreement_unsigned")
    )
    fields = dict(xmltodict.parse(sent.body)["xml"])
    assert sent.url == "https://merchant.example/wxpay/terminated"
    assert (fields["change_type"], fields["contract_termination_mode"]) == ("DELETE", "3")
    assert (
        v2_post("papay/querycontract", _contract_query(contract_id=contract.agreement_no))["contract_state"]
        == "1"
    )
    _refused_as(_charge(contract, "R0302"), "CONTRACT_NOT_EXIST")


def test_the_member_switching_off_in_wechat_sends_delete_as_mode_2_to_the_shop_by_default():
    move_to(1, 9)
    member = UserFactory()
    contract = _signed_contract("K3", member=member)
    client = Client()
    client.force_login(member)
    assert client.post(f"/sandbox/agreements/{contract.agreement_no}/unsign").status_code == 200
    sent = wechat_notifications.outgoing(
        SandboxNotification.objects.get(agreement=contract, event="agreement_unsigned")
    )
    assert sent.url.endswith("/payments/notify/wechat/papay/")
    assert dict(xmltodict.parse(sent.body)["xml"])["contract_termination_mode"] == "2"


# --- helpers ----------------------------------------------------------------------------------------------------


def _contract_query(**lookup) -> dict:
    return {"appid": "wxd678efh567hg6787", "mch_id": "1900000109", "version": "1.0", **lookup}


def _order_query(**lookup) -> dict:
    return {"appid": "wxd678efh567hg6787", "mch_id": "1900000109", "nonce_str": "n1", **lookup}


def _check_signature_any(fields: dict) -> bool:
    fields = dict(fields)
    sign = fields.pop("sign")
    if fields.get("sign_type") == "HMAC-SHA256":
        return sign == calculate_signature_hmac(fields, apiv2_key())
    return _check_signature({**fields, "sign": sign}, apiv2_key())


def test_a_wrong_json_body_is_a_param_error(contract):
    move_to(1, 9)
    reply = v3("POST", f"/v3/papay/contracts/{contract.agreement_no}/notify", raw=b"[1]")
    assert (reply.status_code, json.loads(reply.content)["code"]) == (400, "PARAM_ERROR")
