"""The sandbox's WeChat Pay API v3: H5 prepay, refunds and 委托代扣 contracts, each request's Authorization checked
and each answer signed with the platform key, as WeChat Pay does."""

import functools
import json
import secrets
from collections.abc import Callable
from datetime import date

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from kameng.core import clock
from kameng.core.errors import DomainError
from kameng.protocols import wechat as wechat_protocol
from kameng.sandbox import agreements, keys, services
from kameng.sandbox.faults import faulty
from kameng.sandbox.models import SandboxAgreement, SandboxTrade
from kameng.sandbox.views import cashier_page


def _answer(status: int, payload: dict) -> HttpResponse:
    body = b"" if status == 204 else json.dumps(payload, ensure_ascii=False).encode()
    timestamp, nonce = str(int(clock.now().timestamp())), secrets.token_hex(16)
    signature = wechat_protocol.sign_callback(
        body=body,
        platform_private_key_pem=keys.sandbox_keys()["wechat_platform_private"],
        timestamp=timestamp,
        nonce=nonce,
    )
    response = HttpResponse(body, status=status, content_type="application/json")
    response["Wechatpay-Timestamp"] = timestamp
    response["Wechatpay-Nonce"] = nonce
    response["Wechatpay-Signature"] = signature
    response["Wechatpay-Serial"] = keys.WECHAT_PLATFORM_SERIAL
    response["Wechatpay-Signature-Type"] = "WECHATPAY2-SHA256-RSA2048"
    return response


def _error(status: int, code: str, message: str) -> HttpResponse:
    return _answer(status, {"code": code, "message": message})


def _signed_by_merchant(request, body: str) -> bool:
    """Checks the merchant's Authorization over the exact bytes sent."""
    return wechat_protocol.verify_authorization(
        header=request.headers.get("Authorization", ""),
        method=request.method,
        url_path=request.get_full_path().removeprefix("/sandbox/wechat"),
        body=body,
        merchant_public_key_pem=keys.sandbox_keys()["wechat_merchant_public"],
        now_ts=int(clock.now().timestamp()),
    )


def _wechat_request(request) -> dict | HttpResponse:
    """Checks the merchant's Authorization over the exact bytes sent; returns the JSON body or an error answer."""
    body = request.body.decode("utf-8", "replace")
    if not _signed_by_merchant(request, body):
        return _error(401, "SIGN_ERROR", "签名错误")
    try:
        payload = json.loads(body)
    except ValueError:
        return _error(400, "PARAM_ERROR", "请求体不是 JSON")
    if not isinstance(payload, dict):
        return _error(400, "PARAM_ERROR", "请求体不是对象")
    return payload


def _merchant_post(
    view: Callable[[HttpRequest, dict], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    """A server API the merchant POSTs to: its Authorization is checked and its JSON body handed to the view."""

    @functools.wraps(view)
    def parsed(request: HttpRequest) -> HttpResponse:
        payload = _wechat_request(request)
        return payload if isinstance(payload, HttpResponse) else view(request, payload)

    return csrf_exempt(require_POST(faulty(parsed)))


@_merchant_post
def wechat_h5_prepay(request, payload: dict) -> HttpResponse:
    if payload.get("mchid") != keys.WECHAT_MCHID or payload.get("appid") != keys.WECHAT_APPID:
        return _error(400, "PARAM_ERROR", "mchid/appid 不匹配")
    try:
        trade = services.open_trade(
            channel="wechat",
            out_trade_no=str(payload["out_trade_no"]),
            amount_fen=int(payload["amount"]["total"]),
            subject=str(payload.get("description", ""))[:256],
            notify_url=str(payload["notify_url"]),
            return_url="",
        )
    except (KeyError, TypeError, ValueError):
        return _error(400, "PARAM_ERROR", "参数错误")
    except DomainError as exc:
        return _error(400, "PARAM_ERROR", exc.message)
    return _answer(200, {"h5_url": services.wechat_h5_url(trade)})


@_merchant_post
def wechat_refund(request, payload: dict) -> HttpResponse:
    try:
        made = services.refund(
            channel="wechat",
            out_trade_no=str(payload["out_trade_no"]),
            out_refund_no=str(payload["out_refund_no"]),
            amount_fen=int(payload["amount"]["refund"]),
        )
    except (KeyError, TypeError, ValueError):
        return _error(400, "PARAM_ERROR", "参数错误")
    except DomainError as exc:
        return _error(404 if exc.status == 404 else 403, exc.code, exc.message)
    return _answer(
        200,
        {
            "refund_id": made.refund_id,
            "out_refund_no": made.out_refund_no,
            "transaction_id": made.trade.trade_no,
            "out_trade_no": made.trade.out_trade_no,
            "status": "SUCCESS",
            "amount": {"refund": made.amount_fen, "total": made.trade.amount_fen, "currency": "CNY"},
        },
    )


@_merchant_post
def wechat_pre_entrust_sign(request, payload: dict) -> HttpResponse:
    """预约扣费 H5 pre-sign: stores the sign request and answers the page the member signs on."""
    if payload.get("appid") != keys.WECHAT_APPID:
        return _error(400, "PARAM_ERROR", "appid 不匹配")
    months = {"10001": 1, "10003": 3, "10012": 12}.get(str(payload.get("plan_id")))
    try:
        schedule = payload["deduct_schedule"]
        agreement = agreements.open_agreement(
            channel="wechat",
            external_no=str(payload["out_contract_code"]),
            account_label=str(payload.get("contract_display_account", "")),
            member_ref=str(payload.get("out_user_code", "")),
            plan_label=str(schedule.get("description", "")),
            period_months=months or 0,
            single_amount_fen=int(schedule["estimated_deduct_amount"]["total"]),
            next_deduct_date=date.fromisoformat(schedule["estimated_deduct_date"]),
            notify_url=str(payload["contract_notify_url"]),
            return_url="",
        )
    except (KeyError, TypeError, ValueError):
        return _error(400, "PARAM_ERROR", "参数错误")
    except DomainError as exc:
        return _error(400, exc.code, exc.message)
    return _answer(200, {"redirect_url": agreements.wechat_sign_url(agreement)})


@_merchant_post
def wechat_papay_apply(request, payload: dict) -> HttpResponse:
    """委托代扣 charge: accepted with 204, the result follows as TRANSACTION.SUCCESS."""
    if payload.get("appid") != keys.WECHAT_APPID:
        return _error(400, "PARAM_ERROR", "appid 不匹配")
    try:
        agreements.charge_agreement(
            channel="wechat",
            agreement_no=str(payload["contract_id"]),
            out_trade_no=str(payload["out_trade_no"]),
            amount_fen=int(payload["amount"]["total"]),
            subject=str(payload.get("description", ""))[:256],
            notify_url=str(payload["notify_url"]),
        )
    except (KeyError, TypeError, ValueError):
        return _error(400, "PARAM_ERROR", "参数错误")
    except DomainError as exc:
        code = "NOTENOUGH" if exc.code == "BUYER_BALANCE_NOT_ENOUGH" else exc.code
        return _error(403, code, exc.message)
    return _answer(204, {})


@csrf_exempt
@require_http_methods(["GET", "POST"])
@faulty
def wechat_contract(request, plan_id: str, out_contract_code: str, action: str = ""):
    """GET: query a contract by plan and out_contract_code. POST …/terminate: the merchant terminates it."""
    payload = _wechat_request(request) if request.method == "POST" else None
    if isinstance(payload, HttpResponse):
        return payload
    if request.method == "GET" and not _signed_by_merchant(request, ""):
        return _error(401, "SIGN_ERROR", "签名错误")
    try:
        agreement = agreements.find_agreement(channel="wechat", external_no=out_contract_code)
    except DomainError:
        return _error(404, "RESOURCE_NOT_FOUND", "协议不存在")
    if request.method == "POST":
        if action != "terminate":
            return _error(404, "NOT_FOUND", "不支持的操作")
        if agreement.status == SandboxAgreement.Status.UNSIGN:
            return _error(400, "CONTRACT_TERMINATED", "协议已解约")
        agreements.unsign_agreement(agreement_no=agreement.agreement_no, by="merchant")
        return _answer(204, {})
    state = {"NORMAL": "SIGNED", "UNSIGN": "TERMINATED"}.get(agreement.status, "UNSIGNED")
    return _answer(
        200,
        {
            "mchid": keys.WECHAT_MCHID,
            "appid": keys.WECHAT_APPID,
            "out_contract_code": agreement.external_no,
            "contract_id": agreement.agreement_no,
            "contract_state": state,
        },
    )


@require_safe
def wechat_h5_page(request, prepay_id: str):
    trade = SandboxTrade.objects.filter(channel="wechat", trade_no=prepay_id).first()
    if trade is None:
        return render(request, "sandbox/error.html", {"message": "unknown prepay id"}, status=404)
    return cashier_page(request, trade, request.GET.get("redirect_url", ""))
