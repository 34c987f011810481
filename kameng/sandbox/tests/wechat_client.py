"""A merchant's side of the sandbox's WeChat Pay, for the sandbox's own tests: v2 papay requests built and signed by
wechatpy's own functions (a client nobody here wrote), v3 requests signed with the merchant key, the clock moved to a
Beijing time of day."""

from datetime import datetime, timedelta
from urllib.parse import urlencode

import xmltodict
from django.test import Client
from wechatpy.pay.utils import calculate_signature, calculate_signature_hmac, dict_to_xml

from kameng.core import clock
from kameng.protocols import wechat as wechat_protocol
from kameng.sandbox import keys

MERCHANT_NOTIFY = "https://merchant.example/wxpay/notify"


def apiv2_key() -> str:
    return keys.sandbox_keys()["wechat_apiv2_key"]


def signed_fields(fields: dict, sign_type: str = "MD5") -> dict:
    data = {k: v for k, v in fields.items() if v is not None}
    if sign_type == "HMAC-SHA256":
        data["sign_type"] = "HMAC-SHA256"
        return {**data, "sign": calculate_signature_hmac(data, apiv2_key())}
    return {**data, "sign": calculate_signature(data, apiv2_key())}


def v2_post(path: str, fields: dict, sign_type: str = "MD5") -> dict:
    """POSTs a v2 XML request as wechatpy writes it; the answer's fields."""
    data = {k: v for k, v in fields.items() if v is not None}
    if sign_type == "HMAC-SHA256":
        data["sign_type"] = "HMAC-SHA256"
        sign = calculate_signature_hmac(data, apiv2_key())
    else:
        sign = calculate_signature(data, apiv2_key())
    reply = Client().post(f"/sandbox/wechat/{path}", data=dict_to_xml(data, sign), content_type="text/xml")
    assert reply.status_code == 200
    return dict(xmltodict.parse(reply.content)["xml"])


def h5_sign_url(contract_code: str, *, plan_id: int = 10001, sign_type: str = "HMAC-SHA256", **extra) -> str:
    fields = {
        "appid": keys.WECHAT_APPID,
        "mch_id": keys.WECHAT_MCHID,
        "plan_id": plan_id,
        "contract_code": contract_code,
        "request_serial": 1700000000123,
        "contract_display_account": "sandbox member",
        "notify_url": MERCHANT_NOTIFY,
        "version": "1.0",
        "timestamp": int(clock.now().timestamp()),
        "clientip": "127.0.0.1",
        **extra,
    }
    return "/sandbox/wechat/papay/h5entrustweb?" + urlencode(signed_fields(fields, sign_type))


def charge_fields(contract_id: str, out_trade_no: str, total_fee: int, **extra) -> dict:
    """apply_deduct's fields, as wechatpy's WeChatWithhold sends them."""
    return {
        "appid": keys.WECHAT_APPID,
        "mch_id": keys.WECHAT_MCHID,
        "nonce_str": "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
        "body": "VIP 续费",
        "out_trade_no": out_trade_no,
        "total_fee": total_fee,
        "trade_type": "PAP",
        "contract_id": contract_id,
        "notify_url": MERCHANT_NOTIFY,
        "fee_type": "CNY",
        "timestamp": int(clock.now().timestamp()),
        "spbill_create_ip": "127.0.0.1",
        **extra,
    }


def v3(method: str, path: str, payload: dict | None = None, *, raw: bytes | None = None):
    """A v3 call signed with the merchant's key; the Django test response."""
    merchant = keys._issued_keys()["merchant"]["wechat"]
    body = (
        raw if raw is not None else (b"" if payload is None else __import__("json").dumps(payload).encode())
    )
    authorization = wechat_protocol.build_authorization(
        mchid=keys.WECHAT_MCHID,
        serial_no=merchant["merchant_serial"],
        method=method,
        url_path=path,
        body=body.decode(),
        merchant_private_key_pem=merchant["merchant_private_key_pem"],
        timestamp=str(int(clock.now().timestamp())),
    )
    client = Client()
    call = client.post if method == "POST" else client.get
    kwargs = {"data": body, "content_type": "application/json"} if method == "POST" else {}
    return call("/sandbox/wechat" + path, HTTP_AUTHORIZATION=authorization, **kwargs)


def move_to(days: int, hour: int, minute: int = 0) -> datetime:
    """Moves the test clock forward to hour:minute Beijing time, `days` calendar days after today."""
    now = clock.now()
    target = (now + timedelta(days=days)).replace(hour=hour, minute=minute, second=0, microsecond=0)
    assert target > now, "the clock only moves forward"
    clock.advance(seconds=int((target - now).total_seconds()) + 1)
    return clock.now()
