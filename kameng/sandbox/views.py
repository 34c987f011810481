"""The sandbox gateway's HTTP face: cashier pages for people, signed server APIs for the shop, a pay hook for scripts.

Every view answers 404 unless KAMENG_SANDBOX is on (see urls.py), so production never exposes a fake gateway.
"""

import json
import secrets
from datetime import date

from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from kameng.core import clock
from kameng.core.errors import DomainError, NotFound
from kameng.core.money import format_yuan, parse_yuan, yuan_str
from kameng.payments.channels import alipay_protocol, wechat_protocol
from kameng.sandbox import agreements, keys, services
from kameng.sandbox.faults import faulty
from kameng.sandbox.models import SandboxAgreement, SandboxTrade


def _cashier(request, trade: SandboxTrade, return_url: str):
    return render(
        request,
        "sandbox/cashier.html",
        {
            "trade": trade,
            "amount": format_yuan(trade.amount_fen),
            "return_url": return_url,
            "channel_name": "支付宝 Alipay" if trade.channel == "alipay" else "微信支付 WeChat Pay",
        },
    )


# --- Alipay -------------------------------------------------------------------------------------------------------


def _alipay_answer(method: str, payload: dict) -> HttpResponse:
    text = alipay_protocol.sign_response(method, payload, keys.sandbox_keys()["alipay_private"])
    return HttpResponse(text, content_type="application/json;charset=utf-8")


@csrf_exempt
@require_http_methods(["GET", "POST"])
@faulty
def alipay_gateway(request):
    """GET: the buyer's browser arriving with a signed page-pay request. POST: the shop's server API calls."""
    params = request.GET.dict() if request.method == "GET" else request.POST.dict()
    if request.method == "GET":
        try:
            if params.get("method") == "alipay.user.agreement.page.sign":
                return _sign_page(request, agreements.open_alipay_agreement_sign(params))
            trade = services.open_alipay_page_pay(params)
        except DomainError as exc:
            return render(request, "sandbox/error.html", {"message": exc.message}, status=400)
        return _cashier(request, trade, trade.return_url)
    method = params.get("method", "")
    if params.get("app_id") != keys.ALIPAY_APP_ID or not alipay_protocol.verify_request(
        params, keys.sandbox_keys()["alipay_app_public"]
    ):
        return _alipay_answer(
            method or "error",
            {
                "code": "40002",
                "msg": "Invalid Arguments",
                "sub_code": "isv.invalid-signature",
                "sub_msg": "验签出错",
            },
        )
    if method == "alipay.trade.pay":
        return _alipay_agreement_charge(params)
    if method in ("alipay.user.agreement.unsign", "alipay.user.agreement.query"):
        return _alipay_agreement_api(method, params)
    if method != "alipay.trade.refund":
        return _alipay_answer(
            method or "error",
            {
                "code": "40004",
                "msg": "Business Failed",
                "sub_code": "isv.invalid-method",
                "sub_msg": "不支持的接口",
            },
        )
    try:
        biz = json.loads(params.get("biz_content", ""))
        made = services.refund(
            channel="alipay",
            out_trade_no=str(biz["out_trade_no"]),
            out_refund_no=str(biz.get("out_request_no") or biz["out_trade_no"]),
            amount_fen=parse_yuan(str(biz["refund_amount"])),
        )
    except (ValueError, KeyError, TypeError):
        return _alipay_answer(
            method,
            {
                "code": "40004",
                "msg": "Business Failed",
                "sub_code": "ACQ.INVALID_PARAMETER",
                "sub_msg": "参数无效",
            },
        )
    except DomainError as exc:
        return _alipay_answer(
            method,
            {
                "code": "40004",
                "msg": "Business Failed",
                "sub_code": f"ACQ.{exc.code}",
                "sub_msg": exc.message,
            },
        )
    refunded = sum(r.amount_fen for r in made.trade.refunds.all())
    return _alipay_answer(
        method,
        {
            "code": "10000",
            "msg": "Success",
            "trade_no": made.trade.trade_no,
            "out_trade_no": made.trade.out_trade_no,
            "refund_fee": yuan_str(refunded),
            "fund_change": "Y",
        },
    )


def _alipay_agreement_charge(params: dict[str, str]) -> HttpResponse:
    method = "alipay.trade.pay"
    try:
        biz = json.loads(params.get("biz_content", ""))
        if biz.get("product_code") != "CYCLE_PAY_AUTH":
            raise ValueError("only 周期扣款 charges are played by the sandbox")
        trade = agreements.charge_agreement(
            channel="alipay",
            agreement_no=str(biz["agreement_params"]["agreement_no"]),
            out_trade_no=str(biz["out_trade_no"]),
            amount_fen=parse_yuan(str(biz["total_amount"])),
            subject=str(biz.get("subject", ""))[:256],
            notify_url=params.get("notify_url", ""),
        )
    except (ValueError, KeyError, TypeError):
        return _alipay_answer(
            method,
            {
                "code": "40004",
                "msg": "Business Failed",
                "sub_code": "ACQ.INVALID_PARAMETER",
                "sub_msg": "参数无效",
            },
        )
    except DomainError as exc:
        return _alipay_answer(
            method,
            {
                "code": "40004",
                "msg": "Business Failed",
                "sub_code": f"ACQ.{exc.code}",
                "sub_msg": exc.message,
            },
        )
    return _alipay_answer(
        method,
        {
            "code": "10000",
            "msg": "Success",
            "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "total_amount": yuan_str(trade.amount_fen),
            "gmt_payment": clock.local(trade.paid_at).strftime("%Y-%m-%d %H:%M:%S"),
        },
    )


def _alipay_agreement_api(method: str, params: dict[str, str]) -> HttpResponse:
    try:
        biz = json.loads(params.get("biz_content", ""))
        agreement = agreements.find_agreement(
            channel="alipay",
            agreement_no=str(biz.get("agreement_no", "")),
            external_no=str(biz.get("external_agreement_no", "")),
        )
        if method == "alipay.user.agreement.unsign":
            agreements.unsign_agreement(agreement_no=agreement.agreement_no, by="merchant")
            return _alipay_answer(method, {"code": "10000", "msg": "Success"})
    except (ValueError, TypeError):
        return _alipay_answer(
            method,
            {
                "code": "40004",
                "msg": "Business Failed",
                "sub_code": "INVALID_PARAMETER",
                "sub_msg": "参数无效",
            },
        )
    except DomainError as exc:
        return _alipay_answer(
            method, {"code": "40004", "msg": "Business Failed", "sub_code": exc.code, "sub_msg": exc.message}
        )
    return _alipay_answer(
        method,
        {
            "code": "10000",
            "msg": "Success",
            "agreement_no": agreement.agreement_no,
            "external_agreement_no": agreement.external_no,
            "status": agreement.status,
            "sign_time": clock.local(agreement.signed_at).strftime("%Y-%m-%d %H:%M:%S")
            if agreement.signed_at
            else "",
            "personal_product_code": "CYCLE_PAY_AUTH_P",
        },
    )


# --- WeChat Pay ---------------------------------------------------------------------------------------------------


def _wechat_answer(status: int, payload: dict) -> HttpResponse:
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


def _wechat_request(request) -> dict | HttpResponse:
    """Checks the merchant's Authorization over the exact bytes sent; returns the JSON body or an error answer."""
    body = request.body.decode("utf-8", "replace")
    if not wechat_protocol.verify_authorization(
        header=request.headers.get("Authorization", ""),
        method=request.method,
        url_path=request.get_full_path().removeprefix("/sandbox/wechat"),
        body=body,
        merchant_public_key_pem=keys.sandbox_keys()["wechat_merchant_public"],
        now_ts=int(clock.now().timestamp()),
    ):
        return _wechat_answer(401, {"code": "SIGN_ERROR", "message": "签名错误"})
    try:
        payload = json.loads(body)
    except ValueError:
        return _wechat_answer(400, {"code": "PARAM_ERROR", "message": "请求体不是 JSON"})
    if not isinstance(payload, dict):
        return _wechat_answer(400, {"code": "PARAM_ERROR", "message": "请求体不是对象"})
    return payload


@csrf_exempt
@require_POST
@faulty
def wechat_h5_prepay(request):
    payload = _wechat_request(request)
    if isinstance(payload, HttpResponse):
        return payload
    if payload.get("mchid") != keys.WECHAT_MCHID or payload.get("appid") != keys.WECHAT_APPID:
        return _wechat_answer(400, {"code": "PARAM_ERROR", "message": "mchid/appid 不匹配"})
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
        return _wechat_answer(400, {"code": "PARAM_ERROR", "message": "参数错误"})
    except DomainError as exc:
        return _wechat_answer(400, {"code": "PARAM_ERROR", "message": exc.message})
    return _wechat_answer(200, {"h5_url": services.wechat_h5_url(trade)})


@csrf_exempt
@require_POST
@faulty
def wechat_refund(request):
    payload = _wechat_request(request)
    if isinstance(payload, HttpResponse):
        return payload
    try:
        made = services.refund(
            channel="wechat",
            out_trade_no=str(payload["out_trade_no"]),
            out_refund_no=str(payload["out_refund_no"]),
            amount_fen=int(payload["amount"]["refund"]),
        )
    except (KeyError, TypeError, ValueError):
        return _wechat_answer(400, {"code": "PARAM_ERROR", "message": "参数错误"})
    except DomainError as exc:
        return _wechat_answer(
            404 if isinstance(exc, NotFound) else 403, {"code": exc.code, "message": exc.message}
        )
    return _wechat_answer(
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


@csrf_exempt
@require_POST
@faulty
def wechat_pre_entrust_sign(request):
    """预约扣费 H5 pre-sign: stores the sign request and answers the page the member signs on."""
    payload = _wechat_request(request)
    if isinstance(payload, HttpResponse):
        return payload
    if payload.get("appid") != keys.WECHAT_APPID:
        return _wechat_answer(400, {"code": "PARAM_ERROR", "message": "appid 不匹配"})
    months = {"10001": 1, "10003": 3, "10012": 12}.get(str(payload.get("plan_id")))
    try:
        schedule = payload["deduct_schedule"]
        agreement = agreements.open_agreement(
            channel="wechat",
            external_no=str(payload["out_contract_code"]),
            account_label=str(payload.get("contract_display_account", "")),
            plan_label=str(schedule.get("description", "")),
            period_months=months or 0,
            single_amount_fen=int(schedule["estimated_deduct_amount"]["total"]),
            next_deduct_date=date.fromisoformat(schedule["estimated_deduct_date"]),
            notify_url=str(payload["contract_notify_url"]),
            return_url="",
        )
    except (KeyError, TypeError, ValueError):
        return _wechat_answer(400, {"code": "PARAM_ERROR", "message": "参数错误"})
    except DomainError as exc:
        return _wechat_answer(400, {"code": exc.code, "message": exc.message})
    return _wechat_answer(200, {"redirect_url": agreements.wechat_sign_url(agreement)})


@csrf_exempt
@require_POST
@faulty
def wechat_papay_apply(request):
    """委托代扣 charge: accepted with 204, the result follows as TRANSACTION.SUCCESS."""
    payload = _wechat_request(request)
    if isinstance(payload, HttpResponse):
        return payload
    if payload.get("appid") != keys.WECHAT_APPID:
        return _wechat_answer(400, {"code": "PARAM_ERROR", "message": "appid 不匹配"})
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
        return _wechat_answer(400, {"code": "PARAM_ERROR", "message": "参数错误"})
    except DomainError as exc:
        code = "NOTENOUGH" if exc.code == "BUYER_BALANCE_NOT_ENOUGH" else exc.code
        return _wechat_answer(403, {"code": code, "message": exc.message})
    return _wechat_answer(204, {})


@csrf_exempt
@require_http_methods(["GET", "POST"])
@faulty
def wechat_contract(request, plan_id: str, out_contract_code: str, action: str = ""):
    """GET: query a contract by plan and out_contract_code. POST …/terminate: the merchant terminates it."""
    payload = _wechat_request(request) if request.method == "POST" else None
    if isinstance(payload, HttpResponse):
        return payload
    if request.method == "GET" and not wechat_protocol.verify_authorization(
        header=request.headers.get("Authorization", ""),
        method="GET",
        url_path=request.get_full_path().removeprefix("/sandbox/wechat"),
        body="",
        merchant_public_key_pem=keys.sandbox_keys()["wechat_merchant_public"],
        now_ts=int(clock.now().timestamp()),
    ):
        return _wechat_answer(401, {"code": "SIGN_ERROR", "message": "签名错误"})
    try:
        agreement = agreements.find_agreement(channel="wechat", external_no=out_contract_code)
    except DomainError:
        return _wechat_answer(404, {"code": "RESOURCE_NOT_FOUND", "message": "协议不存在"})
    if request.method == "POST":
        if action != "terminate":
            return _wechat_answer(404, {"code": "NOT_FOUND", "message": "不支持的操作"})
        if agreement.status == SandboxAgreement.Status.UNSIGN:
            return _wechat_answer(400, {"code": "CONTRACT_TERMINATED", "message": "协议已解约"})
        agreements.unsign_agreement(agreement_no=agreement.agreement_no, by="merchant")
        return _wechat_answer(204, {})
    state = {"NORMAL": "SIGNED", "UNSIGN": "TERMINATED"}.get(agreement.status, "UNSIGNED")
    return _wechat_answer(
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
    return _cashier(request, trade, request.GET.get("redirect_url", ""))


# --- agreements: the member's side -------------------------------------------------------------------------------


def _sign_page(request, agreement: SandboxAgreement):
    return render(
        request,
        "sandbox/sign.html",
        {
            "agreement": agreement,
            "cap": format_yuan(agreement.single_amount_fen),
            "return_url": agreement.return_url or request.GET.get("redirect_url", ""),
            "channel_name": "支付宝 Alipay" if agreement.channel == "alipay" else "微信支付 WeChat Pay",
        },
    )


@csrf_exempt  # the channel's own page; the sandbox is never public
@require_http_methods(["GET", "POST"])
def agreement_sign(request, external_no: str):
    channel = request.GET.get("channel") or request.POST.get("channel", "")
    agreement = SandboxAgreement.objects.filter(channel=channel, external_no=external_no).first()
    if agreement is None:
        return render(request, "sandbox/error.html", {"message": "unknown sign request"}, status=404)
    if request.method == "GET":
        return _sign_page(request, agreement)
    try:
        agreements.sign_agreement(agreement=agreement)
    except DomainError as exc:
        return render(request, "sandbox/error.html", {"message": exc.message}, status=exc.status)
    return_url = request.POST.get("return_url", "")
    if return_url.startswith(("http://", "https://")):
        return redirect(return_url)
    return redirect("sandbox:agreement-settings")


@require_safe
def agreement_settings(request):
    """The channel app's 自动续费 settings: every agreement, with a switch to turn it off."""
    listed = SandboxAgreement.objects.exclude(status=SandboxAgreement.Status.TEMP).order_by("-created_at")
    account = request.GET.get("account", "")
    if account:
        listed = listed.filter(account_label=account)
    return render(request, "sandbox/agreements.html", {"agreements": listed[:200], "account": account})


@csrf_exempt  # stands in for the member's thumb inside the channel's app
@require_POST
def agreement_unsign(request, agreement_no: str):
    try:
        agreement = agreements.unsign_agreement(agreement_no=agreement_no)
    except DomainError as exc:
        return JsonResponse({"error": {"code": exc.code, "message": exc.message}}, status=exc.status)
    if "text/html" in request.headers.get("Accept", ""):
        return redirect(reverse("sandbox:agreement-settings") + f"?account={agreement.account_label}")
    return JsonResponse({"agreement_no": agreement.agreement_no, "status": agreement.status})


# --- paying -------------------------------------------------------------------------------------------------------


@csrf_exempt  # a test hook standing in for the buyer's thumb in the channel's app; the sandbox is never public
@require_POST
def pay(request, order_no: str):
    """Pays an order as its buyer would in the channel's app; the signed notification follows asynchronously."""
    trade = SandboxTrade.objects.filter(out_trade_no=order_no).first()
    try:
        if trade is None:
            from kameng.orders.models import Order
            from kameng.payments.selectors import pay_redirect_url

            order = Order.objects.select_related("product").filter(order_no=order_no).first()
            if order is None:
                raise NotFound("no such order", code="unknown_order")
            trade = services.trade_from_pay_url(pay_redirect_url(order=order, client_ip="127.0.0.1"))
        trade = services.pay(trade=trade)
    except DomainError as exc:
        return JsonResponse({"error": {"code": exc.code, "message": exc.message}}, status=exc.status)
    return_url = request.POST.get("return_url", "")
    if return_url.startswith(("http://", "https://")) and "text/html" in request.headers.get("Accept", ""):
        return redirect(return_url)
    return JsonResponse(
        {
            "order_no": order_no,
            "channel": trade.channel,
            "trade_no": trade.trade_no,
            "amount_fen": trade.amount_fen,
            "status": trade.status,
        }
    )
