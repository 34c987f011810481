"""The sandbox's WeChat Pay API v3: H5 and Native prepay and the 委托代扣 预扣费通知 here; order query (by
out_trade_no and by transaction_id), close, refund and refund query in wechat_v3_queries. Each request's
Authorization is checked over the exact bytes sent, each body against the page's field list (unknown or missing
fields and wrong types: 400 PARAM_ERROR), and each answer is signed with the newest platform key, as WeChat Pay does.

Pages: https://pay.weixin.qq.com/docs/merchant/apis/h5-payment/direct-jsons/h5-prepay.html,
https://pay.weixin.qq.com/docs/merchant/apis/native-payment/direct-jsons/native-prepay.html,
…/native-payment/query-by-out-trade-no.html, …/query-by-wx-trade-no.html, …/close-order.html (公共错误码 and 业务错误码:
400 PARAM_ERROR, 401 SIGN_ERROR, 403 TRADE_ERROR, 404 ORDER_NOT_EXIST), …/create.html and …/query-by-out-refund-no.html
(refunds), and the 委托代扣 guide's 预扣费通知 (https://github.com/wechatpay-apiv3/wechatpay-skills/blob/main/
wechatpay-deduction-service/references/1-商户/示例代码/2-代扣扣款/预扣费通知.md).
"""

import functools
import json
import secrets
from collections.abc import Callable
from typing import Literal

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kameng.core import clock
from kameng.core.errors import DomainError
from kameng.protocols import wechat as wechat_protocol
from kameng.sandbox import keys, papay, services
from kameng.sandbox.error_codes import SandboxErrorCode
from kameng.sandbox.faults import faulty
from kameng.sandbox.models import SandboxTrade
from kameng.sandbox.views import cashier_page


def _answer(status: int, payload: dict) -> HttpResponse:
    body = b"" if status == 204 else json.dumps(payload, ensure_ascii=False).encode()
    timestamp, nonce = str(int(clock.now().timestamp())), secrets.token_hex(16)
    k = keys.sandbox_keys()
    signature = wechat_protocol.sign_callback(
        body=body, platform_private_key_pem=k["wechat_platform_private"], timestamp=timestamp, nonce=nonce
    )
    response = HttpResponse(body, status=status, content_type="application/json")
    response["Wechatpay-Timestamp"] = timestamp
    response["Wechatpay-Nonce"] = nonce
    response["Wechatpay-Signature"] = signature
    response["Wechatpay-Serial"] = k["wechat_platform_serial"]  # the newest: rotation switches every answer
    response["Wechatpay-Signature-Type"] = "WECHATPAY2-SHA256-RSA2048"
    return response


def _refusal(exc: DomainError) -> HttpResponse:
    return _answer(exc.status, {"code": exc.code.value, "message": exc.message})


def _signed_by_merchant(request: HttpRequest, body: str) -> bool:
    """Checks the merchant's Authorization over the exact bytes sent (path with its query, as signed)."""
    return wechat_protocol.verify_authorization(
        header=request.headers.get("Authorization", ""),
        method=request.method,
        url_path=request.get_full_path().removeprefix("/sandbox/wechat"),
        body=body,
        merchant_public_key_pem=keys.sandbox_keys()["wechat_merchant_public"],
        now_ts=int(clock.now().timestamp()),
    )


# --- request bodies, field by field from the pages -----------------------------------------------------------------


class _Strict(BaseModel):
    # Unknown fields and wrong types are refused, as WeChat's PARAM_ERROR does; no coercion ("1" is not 1).
    model_config = ConfigDict(extra="forbid", strict=True)


class _Amount(_Strict):
    total: int = Field(gt=0)
    currency: Literal["CNY"] = "CNY"


class _H5Info(_Strict):
    type: str
    app_name: str | None = None
    app_url: str | None = None
    bundle_id: str | None = None
    package_name: str | None = None


class _StoreInfo(_Strict):
    id: str
    name: str | None = None
    area_code: str | None = None
    address: str | None = None


class _SceneInfo(_Strict):
    payer_client_ip: str
    device_id: str | None = None
    store_info: _StoreInfo | None = None
    h5_info: _H5Info | None = None


class _SettleInfo(_Strict):
    profit_sharing: bool | None = None


class _Prepay(_Strict):
    """Common to the H5 and Native prepay pages."""

    appid: str = Field(max_length=32)
    mchid: str = Field(max_length=32)
    description: str = Field(max_length=127)
    out_trade_no: str = Field(min_length=6, max_length=32, pattern=r"^[0-9A-Za-z_\-*|]+$")
    time_expire: str | None = None
    attach: str | None = Field(default=None, max_length=128)
    notify_url: str = Field(max_length=256, pattern=r"^https?://[^?]+$")  # "不能携带参数"
    goods_tag: str | None = None
    support_fapiao: bool | None = None
    amount: _Amount
    detail: dict | None = None
    settle_info: _SettleInfo | None = None


class _H5Prepay(_Prepay):
    scene_info: _SceneInfo  # required for H5, with h5_info


class _NativePrepay(_Prepay):
    scene_info: _SceneInfo | None = None


class _DeductDuration(_Strict):
    count: int = Field(ge=1, le=3)  # 预扣费通知: "扣费持续时间数（1 ~ 3 天）"
    unit: Literal["DAY"]  # "固定 DAY"


class _EstimatedAmount(_Strict):
    amount: int = Field(gt=0)  # "预计扣款金额（分，整数）"
    currency: Literal["CNY"] = "CNY"


class _DeductNotice(_Strict):
    mchid: str
    appid: str
    deduct_duration: _DeductDuration | None = None  # absent: "扣费持续天数 默认 7 天"
    estimated_amount: _EstimatedAmount


def _parsed(schema: type[_Strict], body: bytes) -> _Strict:
    try:
        return schema.model_validate_json(body or b"{}")
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise DomainError(SandboxErrorCode.PARAM_ERROR, detail=f"{where}: {first['msg']}") from None


def _merchant_call(
    view: Callable[..., HttpResponse],
) -> Callable[..., HttpResponse]:
    """A server API: the Authorization checked (401 SIGN_ERROR), refusals answered signed with their status."""

    @functools.wraps(view)
    def checked(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not _signed_by_merchant(request, request.body.decode("utf-8", "replace")):
            return _refusal(DomainError(SandboxErrorCode.SIGN_ERROR))
        try:
            return view(request, *args, **kwargs)
        except DomainError as exc:
            return _refusal(exc)

    return faulty(checked)


def _merchant_matches(appid: str | None, mchid: str | None) -> None:
    if mchid != keys.WECHAT_MCHID or (appid is not None and appid != keys.WECHAT_APPID):
        raise DomainError(SandboxErrorCode.PARAM_ERROR, detail="appid 与 mchid 不匹配")


# --- paying -------------------------------------------------------------------------------------------------------


def _prepay(request: HttpRequest, schema: type[_Prepay], trade_type: str) -> SandboxTrade:
    asked = _parsed(schema, request.body)
    _merchant_matches(asked.appid, asked.mchid)
    try:
        trade = services.open_trade(
            channel="wechat",
            out_trade_no=asked.out_trade_no,
            amount_fen=asked.amount.total,
            subject=asked.description,
            notify_url=asked.notify_url,
            return_url="",
        )
    except DomainError as exc:
        # The same out_trade_no with other terms: 403 OUT_TRADE_NO_USED on the page; the sandbox says so plainly.
        raise DomainError(SandboxErrorCode.TRADE_ERROR, detail=exc.message) from None
    if not trade.trade_type:
        trade.trade_type = trade_type
        trade.save(update_fields=["trade_type"])
    return trade


@csrf_exempt  # a server API, signed by the merchant: no cookie involved
@require_POST
@_merchant_call
def wechat_h5_prepay(request) -> HttpResponse:
    return _answer(200, {"h5_url": services.wechat_h5_url(_prepay(request, _H5Prepay, "MWEB"))})


@csrf_exempt  # a server API, signed by the merchant: no cookie involved
@require_POST
@_merchant_call
def wechat_native_prepay(request) -> HttpResponse:
    """Native: code_url is the QR code's content. WeChat's is weixin://wxpay/bizpayurl?pr=…, which only the WeChat
    app opens; the sandbox's opens its scan page, which pays it, in any phone's camera or browser."""
    trade = _prepay(request, _NativePrepay, "NATIVE")
    return _answer(200, {"code_url": native_scan_url(trade)})


def native_scan_url(trade: SandboxTrade) -> str:
    return f"{settings.KAMENG_PUBLIC_URL.rstrip('/')}/sandbox/wechat/native/{trade.trade_no}"


# --- 委托代扣: 预扣费通知 ------------------------------------------------------------------------------------------


@csrf_exempt  # a server API, signed by the merchant: no cookie involved
@require_POST
@_merchant_call
def wechat_deduct_notice(request, contract_id: str) -> HttpResponse:
    """POST /v3/papay/contracts/{contract_id}/notify: 204, no body."""
    asked = _parsed(_DeductNotice, request.body)
    _merchant_matches(asked.appid, asked.mchid)
    papay.announce_charge(
        contract_id=contract_id,
        amount_fen=asked.estimated_amount.amount,
        deduct_days=asked.deduct_duration.count if asked.deduct_duration else None,
    )
    return _answer(204, {})


# --- the buyer's pages ------------------------------------------------------------------------------------------


@require_safe
def wechat_h5_page(request, prepay_id: str):
    trade = SandboxTrade.objects.filter(channel="wechat", trade_no=prepay_id).first()
    if trade is None:
        return render(request, "sandbox/error.html", {"message": "unknown prepay id"}, status=404)
    return cashier_page(request, trade, request.GET.get("redirect_url", ""))


@require_safe
def wechat_native_page(request, trade_no: str):
    """What scanning a Native code_url opens: the cashier, which pays the trade."""
    trade = SandboxTrade.objects.filter(channel="wechat", trade_no=trade_no, trade_type="NATIVE").first()
    if trade is None:
        return render(request, "sandbox/error.html", {"message": "unknown code_url"}, status=404)
    return cashier_page(request, trade, "")
