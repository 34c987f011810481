"""The sandbox's Alipay gateway (gateway.do): the buyer's page-pay and sign pages, and the shop's server API calls,
answered signed and with Alipay's own error codes."""

import json
from collections.abc import Callable

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from kameng.core import clock
from kameng.core.errors import DomainError
from kameng.core.money import parse_yuan, yuan_str
from kameng.protocols import alipay as alipay_protocol
from kameng.sandbox import agreements, alipay_queries, keys, services
from kameng.sandbox.faults import faulty
from kameng.sandbox.models import SandboxAgreement
from kameng.sandbox.views import cashier_page, sign_page

# An API's answer besides code and msg, from its biz_content and the request's parameters.
Api = Callable[[dict, dict[str, str]], dict]


def _answer(method: str, payload: dict) -> HttpResponse:
    text = alipay_protocol.sign_response(method, payload, keys.sandbox_keys()["alipay_private"])
    return HttpResponse(text, content_type="application/json;charset=utf-8")


def _error(
    method: str, sub_code: str, sub_msg: str, *, code: str = "40004", msg: str = "Business Failed"
) -> HttpResponse:
    return _answer(method, {"code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg})


@csrf_exempt
@require_http_methods(["GET", "POST"])
@faulty
def alipay_gateway(request):
    """GET: the buyer's browser arriving with a signed page-pay request. POST: the shop's server API calls."""
    if request.method == "GET":
        return _browser(request, request.GET.dict())
    params = request.POST.dict()
    method = params.get("method", "")
    if params.get("app_id") != keys.ALIPAY_APP_ID or not alipay_protocol.verify_request(
        params, keys.sandbox_keys()["alipay_app_public"]
    ):
        return _error(
            method or "error", "isv.invalid-signature", "验签出错", code="40002", msg="Invalid Arguments"
        )
    if method not in APIS:
        return _error(method or "error", "isv.invalid-method", "不支持的接口")
    api, prefix = APIS[method]
    try:
        payload = api(_biz_content(params), params)
    except (ValueError, KeyError, TypeError):
        return _error(method, f"{prefix}INVALID_PARAMETER", "参数无效")
    except DomainError as exc:
        return _error(method, f"{prefix}{exc.code}", exc.message)
    return _answer(method, {"code": "10000", "msg": "Success", **payload})


def _biz_content(params: dict[str, str]) -> dict:
    """biz_content is a JSON object; anything else (a list, a number, broken JSON) is an invalid parameter."""
    biz = json.loads(params.get("biz_content", ""))
    if not isinstance(biz, dict):
        raise ValueError("biz_content is not a JSON object")
    return biz


def _browser(request, params: dict[str, str]) -> HttpResponse:
    try:
        if params.get("method") == "alipay.user.agreement.page.sign":
            return sign_page(request, agreements.open_alipay_agreement_sign(params))
        trade = services.open_alipay_page_pay(params)
    except DomainError as exc:
        return render(request, "sandbox/error.html", {"message": exc.message}, status=400)
    return cashier_page(request, trade, trade.return_url)


def _refund(biz: dict, params: dict[str, str]) -> dict:
    made = services.refund(
        channel="alipay",
        out_trade_no=str(biz["out_trade_no"]),
        out_refund_no=str(biz.get("out_request_no") or biz["out_trade_no"]),
        amount_fen=parse_yuan(str(biz["refund_amount"])),
    )
    refunded = sum(r.amount_fen for r in made.trade.refunds.all())
    return {
        "trade_no": made.trade.trade_no,
        "out_trade_no": made.trade.out_trade_no,
        "refund_fee": yuan_str(refunded),
        "fund_change": "Y",
    }


def _charge_agreement(biz: dict, params: dict[str, str]) -> dict:
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
    return {
        "trade_no": trade.trade_no,
        "out_trade_no": trade.out_trade_no,
        "total_amount": yuan_str(trade.amount_fen),
        "gmt_payment": clock.local(trade.paid_at).strftime("%Y-%m-%d %H:%M:%S"),
    }


def _agreement(biz: dict) -> SandboxAgreement:
    return agreements.find_agreement(
        channel="alipay",
        agreement_no=str(biz.get("agreement_no", "")),
        external_no=str(biz.get("external_agreement_no", "")),
    )


def _unsign_agreement(biz: dict, params: dict[str, str]) -> dict:
    agreements.unsign_agreement(agreement_no=_agreement(biz).agreement_no, by="merchant")
    return {}


def _query_agreement(biz: dict, params: dict[str, str]) -> dict:
    agreement = _agreement(biz)
    return {
        "agreement_no": agreement.agreement_no,
        "external_agreement_no": agreement.external_no,
        "status": agreement.status,
        "sign_time": clock.local(agreement.signed_at).strftime("%Y-%m-%d %H:%M:%S")
        if agreement.signed_at
        else "",
        "personal_product_code": "CYCLE_PAY_AUTH_P",
    }


# The server APIs the sandbox plays, each with the prefix Alipay puts on its business error codes: the acquiring
# (trade) APIs say ACQ.TRADE_NOT_EXIST, the agreement APIs USER_AGREEMENT_NOT_EXIST.
APIS: dict[str, tuple[Api, str]] = {
    "alipay.trade.refund": (_refund, "ACQ."),
    "alipay.trade.pay": (_charge_agreement, "ACQ."),
    "alipay.user.agreement.unsign": (_unsign_agreement, ""),
    "alipay.user.agreement.query": (_query_agreement, ""),
    "alipay.trade.query": (alipay_queries.query_trade, "ACQ."),
    "alipay.trade.close": (alipay_queries.close_trade, "ACQ."),
    "alipay.trade.fastpay.refund.query": (alipay_queries.query_refund, "ACQ."),
}
