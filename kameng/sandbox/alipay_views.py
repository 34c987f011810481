"""The sandbox's Alipay gateway (gateway.do), as the real SDKs reach it.

One URL, every form the SDKs send: python-alipay-sdk puts every parameter in the query string (GET) or posts them as
a form; Alipay's official alipay-sdk-python posts with the common parameters and `sign` in the query string and
`biz_content` in the form body, for server calls and for its page-pay form (page_execute) alike. The parameters of
the query string and of the body are read together; the method says what the request is: a page the buyer's browser
opens (wap.pay, page.pay, agreement.page.sign) or a server call answered with signed JSON. Every request is checked
(alipay_rules) before anything is done; refusals carry Alipay's documented codes."""

import logging
from collections.abc import Callable

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_safe

from kameng.core import clock
from kameng.core.errors import DomainError
from kameng.core.money import yuan_str
from kameng.protocols import alipay as alipay_protocol
from kameng.sandbox import (
    agreements,
    alipay_fields,
    alipay_queries,
    alipay_rules,
    alipay_trades,
    keys,
    services,
)
from kameng.sandbox.alipay_rules import AlipayRefusal
from kameng.sandbox.error_codes import AlipayGatewayError
from kameng.sandbox.faults import faulty
from kameng.sandbox.models import SandboxAgreement, SandboxTrade
from kameng.sandbox.views import cashier_page, sign_page

log = logging.getLogger(__name__)
# A server API's answer besides code and msg, from its checked biz_content and the request's parameters.
Api = Callable[[dict, dict[str, str]], dict]


def _answer(method: str, payload: dict) -> HttpResponse:
    text = alipay_protocol.sign_response(method, payload, keys.sandbox_keys()["alipay_private"])
    return HttpResponse(text, content_type="application/json;charset=utf-8")


def _verified(params: dict[str, str]) -> str:
    """The common parameters, the app and the RSA2 signature (request signing: every parameter but sign, empty
    values left out, sorted: Alipay's 自行实现签名, https://docs.open.alipay.com/291/106118). Returns the method."""
    alipay_rules.check_common(params)
    if params["app_id"] != keys.ALIPAY_APP_ID:
        raise AlipayRefusal(AlipayGatewayError.INVALID_APP_ID)
    method = params["method"]
    if method not in APIS and method not in PAGES:
        raise AlipayRefusal(AlipayGatewayError.INVALID_METHOD)
    if not alipay_protocol.verify_request(params, keys.sandbox_keys()["alipay_app_public"]):
        raise AlipayRefusal(AlipayGatewayError.INVALID_SIGNATURE)
    return method


def _biz(method: str, params: dict[str, str]) -> dict:
    if method in alipay_fields.SCHEMAS:
        return alipay_rules.biz_content(method, params)
    # A method added without a field table yet: its biz_content must still be a JSON object.
    return alipay_rules.biz_content_object(params)


@csrf_exempt
@require_http_methods(["GET", "POST"])
@faulty
def alipay_gateway(request):
    params = {**request.GET.dict(), **request.POST.dict()}
    method = params.get("method", "")
    if method in PAGES:
        return _page(request, params)
    try:
        method = _verified(params)
        api, prefix = APIS[method]
    except AlipayRefusal as refusal:
        return _answer(method or "error", refusal.answer(""))
    try:
        payload = api(_biz(method, params), params)
    except AlipayRefusal as refusal:
        return _answer(method, refusal.answer(prefix))
    except DomainError as exc:
        return _answer(method, AlipayRefusal(exc.code, exc.message).answer(prefix))
    except Exception:
        log.exception("alipay gateway: %s failed", method)
        return _answer(method, AlipayRefusal(AlipayGatewayError.UNKNOWN_ERROR).answer(prefix))
    return _answer(method, {"code": "10000", "msg": "Success", **payload})


# --- the buyer's pages --------------------------------------------------------------------------------------------


def page_pay_trade(params: dict[str, str]) -> SandboxTrade:
    """wap.pay / page.pay, checked: the trade the cashier shows. Raises AlipayRefusal."""
    method = _verified(params)
    if method not in PAGE_PAY:
        raise AlipayRefusal(AlipayGatewayError.INVALID_METHOD)
    return alipay_trades.open_page_pay(method, _biz(method, params), params)


def sign_request_agreement(params: dict[str, str]) -> SandboxAgreement:
    """agreement.page.sign, checked: the agreement the signing page shows. Raises AlipayRefusal."""
    method = _verified(params)
    if method != SIGN_PAGE:
        raise AlipayRefusal(AlipayGatewayError.INVALID_METHOD)
    return alipay_trades.open_sign_request(_biz(method, params), params)


def _page(request, params: dict[str, str]) -> HttpResponse:
    """Alipay shows its own error page for a refused page request, naming the code (the merchant's return_url is
    not used)."""
    try:
        if params["method"] == SIGN_PAGE:
            return sign_page(request, sign_request_agreement(params))
        trade = page_pay_trade(params)
    except AlipayRefusal as refusal:
        answer = refusal.answer("ACQ." if params["method"] in PAGE_PAY else "")
        message = f"{answer['code']} {answer['msg']}: {answer['sub_code']} {answer['sub_msg']}"
        return render(request, "sandbox/error.html", {"message": message}, status=400)
    except DomainError as exc:
        return render(request, "sandbox/error.html", {"message": exc.message}, status=400)
    return cashier_page(request, trade, trade.return_url)


@require_safe
def alipay_qr(request, trade_no: str):
    """What the buyer's Alipay app opens after scanning a precreate qr_code: the cashier for that trade."""
    trade = SandboxTrade.objects.filter(channel="alipay", trade_no=trade_no).first()
    if trade is None:
        raise Http404
    return cashier_page(request, trade, "")


# --- server APIs ----------------------------------------------------------------------------------------------------


def _precreate(biz: dict, params: dict[str, str]) -> dict:
    return alipay_trades.precreate(biz, params)


def _deduct(biz: dict, params: dict[str, str]) -> dict:
    trade = alipay_trades.deduct(biz=biz, notify_url=params.get("notify_url", ""))
    return {
        "trade_no": trade.trade_no,
        "out_trade_no": trade.out_trade_no,
        "total_amount": yuan_str(trade.amount_fen),
        "receipt_amount": yuan_str(trade.amount_fen),
        "buyer_user_id": "2088000000000003",
        "gmt_payment": clock.stamp(trade.paid_at),
    }


def _refund(biz: dict, params: dict[str, str]) -> dict:
    # out_trade_no and trade_no: 不能同时为空 (alipay.trade.refund); the trade_no names the trade if both are given.
    trade_no, out_trade_no = biz.get("trade_no"), biz.get("out_trade_no")
    if not trade_no and not out_trade_no:
        raise alipay_rules.invalid("out_trade_no 与 trade_no 不能同时为空")
    if trade_no:
        trade = SandboxTrade.objects.filter(channel="alipay", trade_no=trade_no).first()
        out_trade_no = trade.out_trade_no if trade is not None else f"~{trade_no}"  # ~: matches no trade
    made, moved = services.refund_once(
        channel="alipay",
        out_trade_no=out_trade_no,
        # out_request_no: 如需部分退款,则此参数必传; without it the refund is the trade's one full refund.
        out_refund_no=biz.get("out_request_no") or out_trade_no,
        amount_fen=alipay_rules.amount_fen(biz["refund_amount"], "refund_amount"),
    )
    refunded = sum(r.amount_fen for r in made.trade.refunds.all())
    return {
        "trade_no": made.trade.trade_no,
        "out_trade_no": made.trade.out_trade_no,
        "buyer_user_id": "2088000000000003",
        "refund_fee": yuan_str(refunded),
        "gmt_refund_pay": clock.stamp(made.created_at),
        # fund_change, 本次退款是否发生了资金变化 (https://docs.open.alipay.com/api_1/alipay.trade.refund):
        # Y when this call moved the money; a repeat of the same out_request_no refunds nothing and says N, so 10000
        # alone never proves a refund (https://developer.aliyun.com/article/707647, Alipay's own answer).
        "fund_change": "Y" if moved else "N",
    }


def _agreement(biz: dict) -> SandboxAgreement:
    if not biz.get("agreement_no") and not biz.get("external_agreement_no"):
        raise alipay_rules.invalid("agreement_no 与 external_agreement_no 不能同时为空")
    return agreements.find_agreement(
        channel="alipay",
        agreement_no=str(biz.get("agreement_no", "")),
        external_no=str(biz.get("external_agreement_no", "")),
    )


def _unsign_agreement(biz: dict, params: dict[str, str]) -> dict:
    agreements.unsign_agreement(agreement_no=_agreement(biz).agreement_no, by="merchant")
    return {}


def _query_agreement(biz: dict, params: dict[str, str]) -> dict:
    """AlipayUserAgreementQueryResponse's fields that the sandbox knows; none sent empty."""
    agreement = _agreement(biz)
    answer = {
        "agreement_no": agreement.agreement_no,
        "external_agreement_no": agreement.external_no,
        "personal_product_code": alipay_rules.CYCLE_PERSONAL_PRODUCT,
        "sign_scene": "INDUSTRY|DIGITAL_MEDIA",
        "status": agreement.status,
        "principal_id": "2088000000000003",
        "alipay_logon_id": agreement.account_label,
        "single_quota": yuan_str(agreement.single_amount_fen),
    }
    if agreement.signed_at:
        answer |= {
            "sign_time": clock.stamp(agreement.signed_at),
            "valid_time": clock.stamp(agreement.signed_at),
            "invalid_time": "2115-02-01 00:00:00",
        }
    if agreement.execute_date and agreement.status == SandboxAgreement.Status.NORMAL:
        answer["next_deduct_time"] = agreement.next_deduct_date.isoformat()
    return {name: value for name, value in answer.items() if value}


# The pages a browser opens and the server APIs the sandbox plays, one entry per method (easy to merge), each API
# with the prefix Alipay puts on its business codes: the acquiring (trade) APIs say ACQ.TRADE_NOT_EXIST, the
# agreement APIs USER_AGREEMENT_NOT_EXIST.
PAGE_PAY = {"alipay.trade.wap.pay", "alipay.trade.page.pay"}
SIGN_PAGE = "alipay.user.agreement.page.sign"
PAGES = {*PAGE_PAY, SIGN_PAGE}
APIS: dict[str, tuple[Api, str]] = {
    "alipay.trade.precreate": (_precreate, "ACQ."),
    "alipay.trade.pay": (_deduct, "ACQ."),
    "alipay.trade.refund": (_refund, "ACQ."),
    "alipay.user.agreement.unsign": (_unsign_agreement, ""),
    "alipay.user.agreement.query": (_query_agreement, ""),
    "alipay.trade.query": (alipay_queries.query_trade, "ACQ."),
    "alipay.trade.close": (alipay_queries.close_trade, "ACQ."),
    "alipay.trade.fastpay.refund.query": (alipay_queries.query_refund, "ACQ."),
}
