"""The sandbox's WeChat Pay API v3: H5 and Native prepay, order query (by out_trade_no and by transaction_id) and
close, refund and refund query, and the 委托代扣 预扣费通知. Each request's Authorization is checked over the exact
bytes sent, each body against the page's field list (unknown or missing fields and wrong types: 400 PARAM_ERROR),
and each answer is signed with the newest platform key, as WeChat Pay does.

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
from kameng.sandbox.models import SandboxRefund, SandboxTrade
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


class _RefundAmount(_Strict):
    refund: int = Field(gt=0)
    total: int = Field(gt=0)
    currency: Literal["CNY"]
    from_: list | None = Field(default=None, alias="from")


class _Refund(_Strict):
    transaction_id: str | None = None
    out_trade_no: str | None = None
    out_refund_no: str = Field(max_length=64)
    reason: str | None = Field(default=None, max_length=80)
    notify_url: str | None = None
    funds_account: str | None = None
    amount: _RefundAmount
    goods_detail: list | None = None


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


# --- querying and closing -----------------------------------------------------------------------------------------


def _trade_json(trade: SandboxTrade) -> dict:
    """The query answer's fields; transaction_id, payer and success_time once paid."""
    paid = trade.status == SandboxTrade.Status.PAID
    if paid:
        state, desc = ("REFUND", "转入退款") if trade.refunds.exists() else ("SUCCESS", "支付成功")
    elif trade.status == SandboxTrade.Status.CLOSED:
        state, desc = "CLOSED", "已关闭"
    else:
        state, desc = "NOTPAY", "未支付"
    answer = {
        "appid": keys.WECHAT_APPID,
        "mchid": keys.WECHAT_MCHID,
        "out_trade_no": trade.out_trade_no,
        "trade_type": trade.trade_type or "MWEB",
        "trade_state": state,
        "trade_state_desc": desc,
        "amount": {"total": trade.amount_fen, "currency": "CNY"},
    }
    if paid:
        answer.update(
            transaction_id=trade.trade_no,
            bank_type="OTHERS",
            success_time=clock.local(trade.paid_at).isoformat(timespec="seconds"),
            payer={"openid": "o-sandbox-buyer"},
            amount={**answer["amount"], "payer_total": trade.amount_fen, "payer_currency": "CNY"},
        )
    return answer


def _query_mchid(request: HttpRequest) -> None:
    if set(request.GET) != {"mchid"}:
        raise DomainError(SandboxErrorCode.PARAM_ERROR, detail="查询参数只有 mchid")
    _merchant_matches(None, request.GET["mchid"])


def _trade_or_404(**lookup) -> SandboxTrade:
    trade = SandboxTrade.objects.filter(channel="wechat", **lookup).first()
    if trade is None:
        raise DomainError(SandboxErrorCode.ORDER_NOT_EXIST)
    return trade


@require_safe
@_merchant_call
def wechat_query_by_out_trade_no(request, out_trade_no: str) -> HttpResponse:
    _query_mchid(request)
    return _answer(200, _trade_json(_trade_or_404(out_trade_no=out_trade_no)))


@require_safe
@_merchant_call
def wechat_query_by_id(request, transaction_id: str) -> HttpResponse:
    _query_mchid(request)
    # Only a paid trade has a transaction_id the merchant could know.
    return _answer(200, _trade_json(_trade_or_404(trade_no=transaction_id, status=SandboxTrade.Status.PAID)))


class _Close(_Strict):
    mchid: str


@csrf_exempt  # a server API, signed by the merchant: no cookie involved
@require_POST
@_merchant_call
def wechat_close(request, out_trade_no: str) -> HttpResponse:
    """204; closing a closed order again is 204 too; a paid one is refused."""
    _merchant_matches(None, _parsed(_Close, request.body).mchid)
    services.close_trade(trade=_trade_or_404(out_trade_no=out_trade_no))
    return _answer(204, {})


# --- refunds ------------------------------------------------------------------------------------------------------


def _refund_json(made: SandboxRefund) -> dict:
    trade = made.trade
    return {
        "refund_id": made.refund_id,
        "out_refund_no": made.out_refund_no,
        "transaction_id": trade.trade_no,
        "out_trade_no": trade.out_trade_no,
        "channel": "ORIGINAL",
        "user_received_account": "支付用户零钱",
        "success_time": clock.local(made.created_at).isoformat(timespec="seconds"),
        "create_time": clock.local(made.created_at).isoformat(timespec="seconds"),
        "status": "SUCCESS",
        "funds_account": "AVAILABLE",
        "amount": {
            "total": trade.amount_fen,
            "refund": made.amount_fen,
            "from": [],
            "payer_total": trade.amount_fen,
            "payer_refund": made.amount_fen,
            "settlement_refund": made.amount_fen,
            "settlement_total": trade.amount_fen,
            "discount_refund": 0,
            "currency": "CNY",
        },
    }


@csrf_exempt  # a server API, signed by the merchant: no cookie involved
@require_POST
@_merchant_call
def wechat_refund(request) -> HttpResponse:
    asked = _parsed(_Refund, request.body)
    trade = None
    if asked.transaction_id:
        trade = _trade_or_404(trade_no=asked.transaction_id)
    elif asked.out_trade_no:
        trade = _trade_or_404(out_trade_no=asked.out_trade_no)
    else:
        raise DomainError(SandboxErrorCode.PARAM_ERROR, detail="transaction_id 与 out_trade_no 二选一")
    if asked.amount.total != trade.amount_fen:
        raise DomainError(SandboxErrorCode.PARAM_ERROR, detail="amount.total 与原订单金额不符")
    try:
        made = services.refund(
            channel="wechat",
            out_trade_no=trade.out_trade_no,
            out_refund_no=asked.out_refund_no,
            amount_fen=asked.amount.refund,
        )
    except DomainError as exc:
        if exc.code == SandboxErrorCode.TRADE_NOT_EXIST:
            raise DomainError(SandboxErrorCode.ORDER_NOT_EXIST) from None
        raise DomainError(SandboxErrorCode.TRADE_ERROR, detail=exc.message) from None
    return _answer(200, _refund_json(made))


@require_safe
@_merchant_call
def wechat_refund_query(request, out_refund_no: str) -> HttpResponse:
    if request.GET:
        raise DomainError(SandboxErrorCode.PARAM_ERROR, detail="直连商户不带查询参数")
    made = SandboxRefund.objects.filter(trade__channel="wechat", out_refund_no=out_refund_no).first()
    if made is None:
        raise DomainError(SandboxErrorCode.REFUND_NOT_EXISTS)
    return _answer(200, _refund_json(made))


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
