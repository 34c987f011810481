"""The sandbox's WeChat Pay, driven over real HTTP by SDKs nobody here wrote: wechatpayv3 for every v3 call (Native,
query by out_trade_no and by transaction_id, close, refund and refund query, 预扣费通知) with its own answer and
callback verifiers; wechatpy for the v2 委托代扣 calls (its WeChatWithhold: apply_signing, apply_deduct, query_order,
query_signing, apply_cancel_signing) and its v2 signature check on the notifications, which a loopback listener
catches as the merchant's notify URLs.

Pages: the 委托代扣 guide, https://github.com/wechatpay-apiv3/wechatpay-skills/tree/main/wechatpay-deduction-service/
references/1-商户 (接入指南/回调处理.md, 签名与验签规则.md, 开发参数与业务规则.md; 示例代码/…), and the v3 pages named
in kameng/sandbox/wechat_views.py.
"""

import json
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests
import xmltodict
from wechatpayv3.type import RequestType
from wechatpy.exceptions import WeChatPayException
from wechatpy.pay.utils import calculate_signature_hmac

from kameng.sandbox import keys
from tests.conformance.wechat_sdks import (
    Listener,
    SharedClock,
    h5_sign_params,
    merchant,
    v2_client,
    v3_client,
)

pytestmark = [pytest.mark.postgres]


@pytest.fixture
def listener():
    catching = Listener()
    yield catching
    catching.close()


@pytest.fixture
def termination_url(listener, monkeypatch) -> str:
    # The 委托代扣 template's termination URL (a sandbox setting) points at the listener too; set before the server
    # starts, so it is in the server's environment.
    monkeypatch.setenv("KAMENG_SANDBOX_WECHAT_TERMINATION_URL", listener.url("/terminated"))
    return listener.url("/terminated")


@pytest.fixture
def server(termination_url, gunicorn_server) -> str:
    return gunicorn_server


@pytest.fixture
def shared_clock(monkeypatch) -> SharedClock:
    return SharedClock(monkeypatch)


def _v2_fields(notification) -> dict:
    return dict(xmltodict.parse(notification.body)["xml"])


# --- v3 with wechatpayv3 ------------------------------------------------------------------------------------------


def test_a_native_payment_round_trip_through_wechatpayv3(server, listener, shared_clock):
    pay = v3_client(server, listener.url("/paid"))
    code, answer = pay.pay(description="月卡", out_trade_no="N20270001", amount={"total": 1500})
    assert code == 200, answer
    code_url = json.loads(answer)["code_url"]
    assert requests.get(code_url, timeout=10).status_code == 200  # the scan page, a cashier
    code, answer = pay.query(out_trade_no="N20270001")
    assert (code, json.loads(answer)["trade_state"]) == (200, "NOTPAY")

    assert requests.post(f"{server}/sandbox/pay/N20270001", timeout=10).status_code == 200
    [callback] = listener.wait_for("/paid")
    verified = pay.callback(callback.headers, callback.body)  # the SDK's own signature check and AES-GCM
    assert verified is not None
    paid = verified["resource"]
    assert (verified["event_type"], paid["trade_state"], paid["trade_type"]) == (
        "TRANSACTION.SUCCESS",
        "SUCCESS",
        "NATIVE",
    )

    by_id = json.loads(pay.query(transaction_id=paid["transaction_id"])[1])
    assert (by_id["out_trade_no"], by_id["trade_state"]) == ("N20270001", "SUCCESS")
    code, answer = pay.refund(
        out_refund_no="RF20270001",
        amount={"refund": 500, "total": 1500, "currency": "CNY"},
        out_trade_no="N20270001",
    )
    assert (code, json.loads(answer)["status"]) == (200, "SUCCESS")
    code, answer = pay.query_refund(out_refund_no="RF20270001")
    assert (code, json.loads(answer)["amount"]["refund"]) == (200, 500)
    assert json.loads(pay.query(out_trade_no="N20270001")[1])["trade_state"] == "REFUND"


def test_wechatpayv3_closes_an_unpaid_order_which_then_cannot_be_paid(server, listener, shared_clock):
    pay = v3_client(server, listener.url("/paid"))
    pay.pay(description="月卡", out_trade_no="N20270002", amount={"total": 1500})
    assert pay.close(out_trade_no="N20270002")[0] == 204
    assert json.loads(pay.query(out_trade_no="N20270002")[1])["trade_state"] == "CLOSED"
    assert requests.post(f"{server}/sandbox/pay/N20270002", timeout=10).status_code == 403


def test_v3_refusals_carry_wechats_documented_codes_and_statuses(server, listener, shared_clock):
    pay = v3_client(server, listener.url("/paid"))
    code, answer = pay.query(out_trade_no="NOSUCHORDER")
    assert (code, json.loads(answer)["code"]) == (404, "ORDER_NOT_EXIST")
    code, answer = pay.query_refund(out_refund_no="NOSUCHREFUND")
    assert (code, json.loads(answer)["code"]) == (404, "RESOURCE_NOT_EXISTS")
    extra = {
        "appid": merchant()["appid"],
        "mchid": merchant()["mchid"],
        "description": "x",
        "out_trade_no": "N2027003",
    }
    extra |= {"notify_url": listener.url("/paid"), "amount": {"total": 1}, "transaction_notify_url": "x"}
    code, answer = pay._core.request("/v3/pay/transactions/native", method=RequestType.POST, data=extra)
    assert (code, json.loads(answer)["code"]) == (400, "PARAM_ERROR")
    wrong_type = {**extra, "amount": {"total": "1"}}
    del wrong_type["transaction_notify_url"]
    code, answer = pay._core.request("/v3/pay/transactions/native", method=RequestType.POST, data=wrong_type)
    assert (code, json.loads(answer)["code"]) == (400, "PARAM_ERROR")


@pytest.fixture
def keys_restored(settings):
    """The keys file as it was: other tests (and processes) of this run share the instance folder."""
    path = Path(settings.KAMENG_SANDBOX_KEYS_FILE)
    before = path.read_bytes()
    yield
    path.write_bytes(before)


def test_after_a_platform_key_rotation_the_sdk_holding_the_new_serial_verifies_and_the_old_one_does_not(
    keys_restored, server, listener, shared_clock
):
    old = keys.sandbox_keys()["wechat_platform_serial"]
    new = keys.rotate_wechat_platform_key()
    holding_new = v3_client(server, listener.url("/paid"), serial=new)
    code, answer = holding_new.pay(description="月卡", out_trade_no="N20270004", amount={"total": 1500})
    assert code == 200, answer
    holding_old = v3_client(server, listener.url("/paid"), serial=old)
    with pytest.raises(Exception):  # noqa: B017 (the SDK raises a bare Exception, or fails to fetch certificates)
        holding_old.query(out_trade_no="N20270004")
    assert {old, new} <= set(merchant()["platform_public_keys"])


# --- v2 委托代扣 with wechatpy, the 预扣费通知 with wechatpayv3 ----------------------------------------------------


def _signed_by_member(server: str, listener: Listener, code: str) -> str:
    """H5 纯签约 → redirect_url → the member confirms; the contract_id from the ADD notification."""
    reply = requests.get(
        f"{server}/sandbox/wechat/papay/h5entrustweb",
        params=h5_sign_params(listener.url("/signed"), code),
        timeout=10,
    )
    answer = dict(xmltodict.parse(reply.content)["xml"])
    assert answer["result_code"] == "SUCCESS", answer
    assert requests.post(answer["redirect_url"], data={"channel": "wechat"}, timeout=10).status_code < 400
    [added] = [n for n in listener.wait_for("/signed") if _v2_fields(n)["contract_code"] == code]
    fields = _v2_fields(added)
    sign = fields.pop("sign")
    assert sign == calculate_signature_hmac(fields, merchant()["apiv2_key"])  # signed as the request was
    assert fields["change_type"] == "ADD"
    return fields["contract_id"]


def test_a_papay_contract_signs_charges_renews_and_ends_through_wechatpy(server, listener, shared_clock):
    shared_clock.move_to(1, 9)
    wechat = v2_client(server)
    contract_id = _signed_by_member(server, listener, "KC2027001")

    # Within 12 h of the first signing: charged at once, without a notice.
    accepted = wechat.withhold.apply_deduct(
        "VIP 月卡", 1500, contract_id, listener.url("/charged"), out_trade_no="P20270001"
    )
    assert accepted["result_code"] == "SUCCESS"
    [charged] = listener.wait_for("/charged")
    result = wechat.parse_payment_result(charged.body)  # wechatpy's own v2 signature check
    assert (result["result_code"], result["total_fee"], result["contract_id"]) == (
        "SUCCESS",
        1500,
        contract_id,
    )
    assert wechat.withhold.query_order(out_trade_no="P20270001")["trade_state"] == "SUCCESS"

    # A month on: the 预扣费通知 (v3, wechatpayv3), two waiting days, then the charge.
    shared_clock.move_to(27, 10)
    pay = v3_client(server, listener.url("/paid"))
    notice = {
        "mchid": merchant()["mchid"],
        "appid": merchant()["appid"],
        "deduct_duration": {"count": 3, "unit": "DAY"},
        "estimated_amount": {"amount": 1500, "currency": "CNY"},
    }
    code, answer = pay._core.request(
        f"/v3/papay/contracts/{contract_id}/notify", method=RequestType.POST, data=notice
    )
    assert code == 204, answer  # and wechatpayv3 verified the 204's signature
    shared_clock.move_to(2, 9)
    assert (
        wechat.withhold.apply_deduct(
            "VIP 月卡", 1500, contract_id, listener.url("/charged"), out_trade_no="P20270002"
        )["result_code"]
        == "SUCCESS"
    )
    assert (
        wechat.parse_payment_result(listener.wait_for("/charged", 2)[1].body)["out_trade_no"] == "P20270002"
    )

    assert wechat.withhold.query_signing(contract_id=contract_id)["contract_state"] == "0"
    ended = wechat.withhold.apply_cancel_signing(
        contract_id=contract_id, contract_termination_remark="会员关闭自动续费"
    )
    assert ended["contract_id"] == contract_id
    [deleted] = listener.wait_for("/terminated")  # the template's termination URL, not a request's
    fields = _v2_fields(deleted)
    # Signed as the signing request was (HMAC-SHA256), by wechatpy's own function.
    assert fields.pop("sign") == calculate_signature_hmac(fields, merchant()["apiv2_key"])
    assert (fields["change_type"], fields["contract_termination_mode"]) == ("DELETE", "3")
    assert wechat.withhold.query_signing(contract_id=contract_id)["contract_state"] == "1"


def test_wechatpy_is_refused_rulelimit_for_a_charge_on_a_waiting_day(server, listener, shared_clock):
    shared_clock.move_to(1, 9)
    wechat = v2_client(server)
    contract_id = _signed_by_member(server, listener, "KC2027002")
    shared_clock.move_to(1, 9)  # past the first 12 h
    pay = v3_client(server, listener.url("/paid"))
    notice = {
        "mchid": merchant()["mchid"],
        "appid": merchant()["appid"],
        "estimated_amount": {"amount": 1500},
    }
    assert (
        pay._core.request(f"/v3/papay/contracts/{contract_id}/notify", method=RequestType.POST, data=notice)[
            0
        ]
        == 204
    )
    shared_clock.move_to(1, 9)
    with pytest.raises(WeChatPayException) as refused:
        wechat.withhold.apply_deduct(
            "VIP 月卡", 1500, contract_id, listener.url("/charged"), out_trade_no="P20270003"
        )
    assert refused.value.errcode == "RULELIMIT"


def test_wechatpys_official_account_signing_link_leads_to_the_signing_page(server, listener, shared_clock):
    wechat = v2_client(server)
    link = wechat.withhold.apply_signing(
        plan_id=10003,
        contract_code="KC2027003",
        contract_display_account="conformance",
        notify_url=listener.url("/signed"),
    )
    reply = requests.get(
        link["base_url"] + "?" + urlencode(dict(link["data"])), allow_redirects=False, timeout=10
    )
    assert reply.status_code == 302
    assert reply.headers["Location"].endswith("/sandbox/agreements/KC2027003/sign?channel=wechat")
