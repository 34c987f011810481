"""The sandbox issues its keys once, both sides in one file the shop reads its merchant side from."""

import json

from django.test import override_settings

from kameng.protocols import _rsa
from kameng.protocols import alipay as alipay_protocol
from kameng.sandbox import keys


def test_keys_are_issued_once_and_readable_by_the_shops_user_only(tmp_path):
    path = tmp_path / "sandbox" / "keys.json"
    with override_settings(KAMENG_SANDBOX_KEYS_FILE=path):
        keys.issue_keys()
        first = path.read_text()
        keys.issue_keys()
    assert path.read_text() == first
    assert path.stat().st_mode & 0o777 == 0o600


def test_the_merchant_side_pairs_with_the_gateway_side(tmp_path):
    path = tmp_path / "keys.json"
    with override_settings(KAMENG_SANDBOX_KEYS_FILE=path):
        keys.issue_keys()
    issued = json.loads(path.read_text())
    merchant, gateway = issued["merchant"]["alipay"], issued["gateway"]
    signed = alipay_protocol.sign_notification({"out_trade_no": "K1"}, gateway["alipay_private"])
    assert alipay_protocol.verify_notification(signed, merchant["alipay_public_key_pem"])
    request = alipay_protocol.sign_request({"app_id": merchant["app_id"]}, merchant["app_private_key_pem"])
    assert alipay_protocol.verify_request(request, gateway["alipay_app_public"])
    assert merchant["app_id"] == keys.ALIPAY_APP_ID


def test_a_keys_file_from_before_the_merchant_side_is_replaced(tmp_path):
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"alipay_private": "old"}))
    with override_settings(KAMENG_SANDBOX_KEYS_FILE=path):
        keys.issue_keys()
    assert set(json.loads(path.read_text())) == {"gateway", "merchant"}


def test_a_rotated_wechat_platform_key_signs_from_then_on_and_the_merchant_keeps_every_serial(tmp_path):
    path = tmp_path / "keys.json"
    with override_settings(KAMENG_SANDBOX_KEYS_FILE=path):
        keys.issue_keys()
        first = keys.sandbox_keys()["wechat_platform_serial"]
        second = keys.rotate_wechat_platform_key()
        gateway = keys.sandbox_keys()
    merchant = json.loads(path.read_text())["merchant"]["wechat"]
    assert (first, second) == (keys.WECHAT_PLATFORM_SERIAL, keys.platform_serial(2))
    assert gateway["wechat_platform_serial"] == second
    assert set(merchant["platform_public_keys"]) == {first, second}
    message = b"1700000000\nnonce\n{}\n"
    signature = _rsa.sign(message, gateway["wechat_platform_private"])
    assert _rsa.verify(message, signature, merchant["platform_public_keys"][second])
    assert not _rsa.verify(message, signature, merchant["platform_public_keys"][first])


def test_the_merchant_side_carries_the_apiv2_key_the_gateway_signs_v2_papay_with(tmp_path):
    path = tmp_path / "keys.json"
    with override_settings(KAMENG_SANDBOX_KEYS_FILE=path):
        keys.issue_keys()
        gateway = keys.sandbox_keys()
    merchant = json.loads(path.read_text())["merchant"]["wechat"]
    assert merchant["apiv2_key"] == gateway["wechat_apiv2_key"] and len(merchant["apiv2_key"]) == 32
