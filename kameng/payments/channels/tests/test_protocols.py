"""The channel protocols against the shared signature vectors: genuine ones verify, any tampering does not."""

import json
import os
from pathlib import Path

import pytest
from alipay import AliPay

from kameng.payments.channels.errors import SignatureError
from kameng.protocols import alipay, wechat
from kameng.sandbox.keys import _keypair

SHARED = Path(os.environ.get("KAMENG_SHARED_DIR", Path(__file__).resolve().parents[5] / "shared"))
# The shared folder is the source of truth; the copy beside this file keeps a lone clone testable.
_SOURCE = SHARED / "testdata" / "payment_vectors.json"
VECTORS = json.loads(
    (_SOURCE if _SOURCE.exists() else Path(__file__).with_name("payment_vectors.json")).read_text()
)
ALI = VECTORS["alipay_notify"]
WX = VECTORS["wechat_v3_callback"]
WX_REQ = VECTORS["wechat_v3_request"]
V2 = VECTORS["wechat_v2_official"]
TS = int(WX["headers"]["Wechatpay-Timestamp"])
PLATFORM = {WX["headers"]["Wechatpay-Serial"]: WX["platform_public_key_pem"]}


def test_alipay_sign_content_matches_the_vector():
    assert alipay.sign_content(ALI["form_params"], include_sign_type=False) == ALI["expected_sign_content"]


def test_alipay_genuine_notification_verifies():
    assert alipay.verify_notification(ALI["form_params"], ALI["alipay_public_key_pem"]) is True


def test_alipay_tampered_notification_does_not_verify():
    assert alipay.verify_notification(ALI["tampered_params"], ALI["alipay_public_key_pem"]) is False


def test_alipay_garbage_signature_is_false_not_a_crash():
    for sign in ("", "!!!not-base64", "QUJD"):
        assert (
            alipay.verify_notification({**ALI["form_params"], "sign": sign}, ALI["alipay_public_key_pem"])
            is False
        )


def test_python_alipay_sdk_agrees_with_our_verifier_on_the_vector():
    private, _ = _keypair()
    sdk = AliPay(
        appid="2021000000000000",
        app_notify_url=None,
        app_private_key_string=private,
        alipay_public_key_string=ALI["alipay_public_key_pem"],
        sign_type="RSA2",
    )
    for params, expected in ((ALI["form_params"], True), (ALI["tampered_params"], False)):
        data = dict(params)
        signature = data.pop("sign")
        assert sdk.verify(data, signature) is expected


def test_alipay_round_trips_with_fresh_keys():
    private, public = _keypair()
    params = {"notify_id": "1", "out_trade_no": "K1", "total_amount": "1.00", "subject": "点卡"}
    assert alipay.verify_notification(alipay.sign_notification(params, private), public)
    signed = alipay.sign_request(
        {"app_id": "1", "method": "alipay.trade.refund", "biz_content": "{}"}, private
    )
    assert alipay.verify_request(signed, public)
    assert not alipay.verify_request({**signed, "biz_content": '{"x":1}'}, public)


def test_alipay_sync_response_is_verified_over_its_raw_text():
    private, public = _keypair()
    text = alipay.sign_response("alipay.trade.refund", {"code": "10000", "refund_fee": "1.00"}, private)
    assert alipay.verify_response(text, "alipay.trade.refund", public)["code"] == "10000"
    with pytest.raises(SignatureError):
        alipay.verify_response(text.replace("1.00", "9.00"), "alipay.trade.refund", public)


def test_wechat_genuine_callback_verifies_and_decrypts():
    body = WX["raw_body"].encode()
    wechat.verify_callback(headers=WX["headers"], body=body, platform_public_keys=PLATFORM, now_ts=TS)
    resource = json.loads(body)["resource"]
    assert wechat.decrypt_resource(resource, WX["apiv3_key"]) == WX["expected_resource"]


def test_wechat_callback_verifies_with_django_meta_style_headers():
    meta = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in WX["headers"].items()}
    wechat.verify_callback(
        headers=meta, body=WX["raw_body"].encode(), platform_public_keys=PLATFORM, now_ts=TS
    )


@pytest.mark.parametrize(
    ("change", "now_ts"),
    [
        ({"body": WX["raw_body"].replace("解约成功", "签约成功")}, TS),
        ({"Wechatpay-Nonce": "X" + WX["headers"]["Wechatpay-Nonce"][1:]}, TS),
        ({"Wechatpay-Timestamp": str(TS + 1)}, TS),
        ({"Wechatpay-Serial": "PUB_KEY_ID_SOMEONE_ELSE"}, TS),
        ({"Wechatpay-Signature-Type": "WECHATPAY2-SHA1"}, TS),
        ({"Wechatpay-Signature": ""}, TS),
        ({}, TS + 301),
        ({}, TS - 301),
        ({"body": json.dumps(json.loads(WX["raw_body"]), ensure_ascii=False)}, TS),  # re-serialised
    ],
)
def test_wechat_tampered_stale_or_reserialised_callbacks_are_rejected(change, now_ts):
    headers = {**WX["headers"], **{k: v for k, v in change.items() if k != "body"}}
    body = change.get("body", WX["raw_body"]).encode()
    with pytest.raises(SignatureError):
        wechat.verify_callback(headers=headers, body=body, platform_public_keys=PLATFORM, now_ts=now_ts)


def test_wechat_resource_with_a_wrong_key_does_not_decrypt():
    resource = json.loads(WX["raw_body"])["resource"]
    with pytest.raises(SignatureError):
        wechat.decrypt_resource(resource, "f" * 32)


def test_wechat_request_authorization_reproduces_the_vector():
    method, path, ts, nonce, body = WX_REQ["sign_string"].split("\n")[:5]
    header = wechat.build_authorization(
        mchid="1900000109",
        serial_no="TESTSERIAL",
        method=method,
        url_path=path,
        body=body,
        merchant_private_key_pem=WX_REQ["merchant_private_key_pem"],
        timestamp=ts,
        nonce=nonce,
    )
    assert header == WX_REQ["authorization"]
    assert wechat.request_sign_message(method, path, ts, nonce, body) == WX_REQ["sign_string"]
    assert wechat.verify_authorization(
        header=header,
        method=method,
        url_path=path,
        body=body,
        merchant_public_key_pem=WX_REQ["merchant_public_key_pem"],
        now_ts=int(ts),
    )
    assert not wechat.verify_authorization(
        header=header,
        method=method,
        url_path=path,
        body=body + " ",
        merchant_public_key_pem=WX_REQ["merchant_public_key_pem"],
        now_ts=int(ts),
    )


def test_wechatpayv3_sdk_agrees_with_our_callback_verification():
    from wechatpayv3.utils import rsa_verify

    headers = WX["headers"]
    assert rsa_verify(
        headers["Wechatpay-Timestamp"],
        headers["Wechatpay-Nonce"],
        WX["raw_body"],
        headers["Wechatpay-Signature"],
        _sdk_public_key(WX["platform_public_key_pem"]),
    )


def _sdk_public_key(pem: str):
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    return load_pem_public_key(pem.encode())


def test_wechat_built_callback_round_trips():
    private, public = _keypair()
    headers, body = wechat.build_callback(
        event_type="TRANSACTION.SUCCESS",
        summary="支付成功",
        resource_plain={"out_trade_no": "K1"},
        resource_type_original="transaction",
        apiv3_key="k" * 32,
        platform_private_key_pem=private,
        platform_serial="S1",
        now_ts=TS,
        event_id="EV1",
    )
    wechat.verify_callback(headers=headers, body=body, platform_public_keys={"S1": public}, now_ts=TS)
    assert wechat.decrypt_resource(json.loads(body)["resource"], "k" * 32) == {"out_trade_no": "K1"}


def test_wechat_v2_signatures_match_the_official_example():
    assert wechat.v2_sign(V2["params"], V2["key"], "MD5") == V2["md5"]
    assert wechat.v2_sign(V2["params"], V2["key"], "HMAC-SHA256") == V2["hmac_sha256"]
    assert wechat.v2_verify({**V2["params"], "sign": V2["md5"]}, V2["key"])
    assert not wechat.v2_verify({**V2["params"], "body": "tampered", "sign": V2["md5"]}, V2["key"])
