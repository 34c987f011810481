"""The sandbox's WeChat Pay 委托代扣 API v2 (direct merchant): H5 and 公众号 纯签约, 申请扣款, 查询订单, 关闭订单
here; 查询签约关系 and 申请解约 in wechat_papay_contracts. XML (or, for the signing entries, a URL query) signed with
the APIv2 key by MD5 or HMAC-SHA256; each request checked field by field against the page's list by wechat_papay_rules
(an unknown, missing or mistyped field is PARAM_ERROR), each answer signed the way the request was.

Pages (G = https://github.com/wechatpay-apiv3/wechatpay-skills/blob/main/wechatpay-deduction-service/references/
1-商户/): G + 接入指南/签名与验签规则.md (signatures, default sign types), G + 接入指南/开发参数与业务规则.md
(parameters, rules), G + 示例代码/1-用户签约/H5纯签约.md, …/公众号纯签约.md, G + 示例代码/2-代扣扣款/申请扣款.md,
G + 示例代码/4-订单协议查询/查询订单.md, …/查询签约关系.md, G + 示例代码/3-协议解约/申请解约.md.
"""

from collections.abc import Callable, Mapping
from urllib.parse import parse_qsl, urlsplit

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe

from kameng.core import clock
from kameng.core.errors import DomainError
from kameng.protocols import wechat_v2
from kameng.protocols.errors import ChannelProtocolError
from kameng.sandbox import agreements, keys, papay, services
from kameng.sandbox import wechat_papay_rules as rules
from kameng.sandbox.error_codes import SandboxErrorCode
from kameng.sandbox.faults import faulty
from kameng.sandbox.models import SandboxAgreement, SandboxTrade


def _xml(fields: Mapping[str, object], sign_type: str | None = None) -> HttpResponse:
    """An answer; signed (with nonce_str) unless it is a return_code FAIL, which WeChat does not sign."""
    if sign_type is not None:
        fields = wechat_v2.signed(
            {**fields, "nonce_str": wechat_v2.nonce()}, keys.sandbox_keys()["wechat_apiv2_key"], sign_type
        )
    return HttpResponse(wechat_v2.to_xml(fields), content_type="text/xml; charset=utf-8")


def _ok(sign_type: str, **fields: object) -> HttpResponse:
    return _xml(
        {
            "return_code": "SUCCESS",
            "return_msg": "OK",
            "result_code": "SUCCESS",
            "appid": keys.WECHAT_APPID,
            "mch_id": keys.WECHAT_MCHID,
            **fields,
        },
        sign_type,
    )


def _v2_call(
    spec: rules.Fields, params: Callable[[HttpRequest], Mapping[str, str]]
) -> Callable[
    [Callable[[HttpRequest, dict[str, str], str], HttpResponse]], Callable[[HttpRequest], HttpResponse]
]:
    """Parses and checks a v2 request; a refusal becomes return_code FAIL, a DomainError result_code FAIL."""

    def wrap(view):
        def handled(request: HttpRequest) -> HttpResponse:
            raw: Mapping[str, str] = {}
            try:
                raw = params(request)
                given, sign_type = rules.checked(raw, spec)
                return view(request, given, sign_type)
            except (rules.Refused, ChannelProtocolError) as exc:
                return _xml({"return_code": "FAIL", "return_msg": str(exc)})
            except DomainError as exc:
                # Signed as the request was; result_msg is the H5 entry's name for it, err_code the others'.
                answer_type = (
                    raw.get("sign_type")
                    if raw.get("sign_type") in rules.SIGN_TYPES
                    else spec.default_sign_type
                )
                fields = {
                    "result_msg": exc.code.value,
                    "err_code": exc.code.value,
                    "err_code_des": exc.message,
                }
                return _ok(answer_type, **fields, result_code="FAIL")

        return handled

    return wrap


# --- signing ------------------------------------------------------------------------------------------------------


def _sign_request(given: dict[str, str], sign_type: str) -> SandboxAgreement:
    return papay.open_sign_request(
        papay.SignRequest(
            plan_id=int(given["plan_id"]),
            contract_code=given["contract_code"],
            request_serial=int(given["request_serial"]),
            contract_display_account=given["contract_display_account"],
            notify_url=given["notify_url"],
            sign_type=sign_type,
        )
    )


@require_safe
@faulty
@_v2_call(rules.H5_SIGN, rules.query_params)
def h5_entrust(request, given: dict[str, str], sign_type: str) -> HttpResponse:
    """GET papay/h5entrustweb: answers the redirect_url of WeChat's signing page (here the sandbox's)."""
    contract = _sign_request(given, sign_type)
    return _ok(sign_type, redirect_url=agreements.wechat_sign_url(contract))


@require_safe
@_v2_call(rules.OFFICIAL_ACCOUNT_SIGN, rules.query_params)
def official_account_entrust(request, given: dict[str, str], sign_type: str) -> HttpResponse:
    """GET papay/entrustweb: "无 XML 响应。微信会唤起签约页面" — the browser goes straight to the signing page."""
    return redirect(agreements.wechat_sign_url(_sign_request(given, sign_type)))


# --- charging and querying ---------------------------------------------------------------------------------------


@csrf_exempt  # a server API (v2 XML), signed by the merchant with the APIv2 key: no cookie involved
@require_POST
@faulty
@_v2_call(rules.CHARGE, rules.xml_body)
def pap_pay_apply(request, given: dict[str, str], sign_type: str) -> HttpResponse:
    """POST pay/pappayapply: result_code SUCCESS is only 受理; the result follows in the 扣款结果通知."""
    papay.charge(
        papay.ChargeRequest(
            contract_id=given["contract_id"],
            out_trade_no=given["out_trade_no"],
            total_fee=int(given["total_fee"]),
            body=given["body"],
            notify_url=given["notify_url"],
            sign_type=sign_type,
        )
    )
    return _ok(sign_type)


def _trade_state(trade: SandboxTrade) -> tuple[str, str]:
    """查询订单 trade_state: SUCCESS / REFUND / NOTPAY / CLOSED."""
    if trade.status == SandboxTrade.Status.PAID:
        return ("REFUND", "转入退款") if trade.refunds.exists() else ("SUCCESS", "支付成功")
    if trade.status == SandboxTrade.Status.CLOSED:
        return "CLOSED", {"NOTENOUGH": "余额不足"}.get(trade.err_code, "已关闭")
    return "NOTPAY", "未支付"


@csrf_exempt  # a server API (v2 XML), signed by the merchant with the APIv2 key: no cookie involved
@require_POST
@faulty
@_v2_call(rules.ORDER_QUERY, rules.xml_body)
def pap_order_query(request, given: dict[str, str], sign_type: str) -> HttpResponse:
    """POST pay/paporderquery (and pay/orderquery): transaction_id or out_trade_no."""
    trades = SandboxTrade.objects.filter(channel="wechat").select_related("agreement")
    if given.get("transaction_id"):
        trade = trades.filter(trade_no=given["transaction_id"]).first()
    else:
        trade = trades.filter(out_trade_no=given["out_trade_no"]).first()
    if trade is None:
        raise DomainError(SandboxErrorCode.ORDERNOTEXIST)
    state, desc = _trade_state(trade)
    paid = trade.status == SandboxTrade.Status.PAID
    return _ok(
        sign_type,
        trade_type=trade.trade_type or "MWEB",
        trade_state=state,
        trade_state_desc=desc,
        out_trade_no=trade.out_trade_no,
        transaction_id=trade.trade_no if paid else None,
        total_fee=trade.amount_fen,
        cash_fee=trade.amount_fen if paid else None,
        fee_type="CNY",
        bank_type="OTHERS" if paid else None,
        openid=trade.agreement.openid if trade.agreement else None,
        is_subscribe="N",
        time_end=clock.local(trade.paid_at).strftime("%Y%m%d%H%M%S") if paid else None,
        contract_id=trade.agreement.agreement_no if trade.agreement else None,
        err_code=trade.err_code or None,
    )


@csrf_exempt  # a server API (v2 XML), signed by the merchant with the APIv2 key: no cookie involved
@require_POST
@faulty
@_v2_call(rules.CLOSE_ORDER, rules.xml_body)
def close_order(request, given: dict[str, str], sign_type: str) -> HttpResponse:
    """POST pay/closeorder (关闭订单.md): ORDERPAID for a paid order; a closed one (a failed charge closes itself,
    开发参数与业务规则 section 九) answers ORDERCLOSED; an unpaid one closes."""
    trade = SandboxTrade.objects.filter(channel="wechat", out_trade_no=given["out_trade_no"]).first()
    if trade is None:
        raise DomainError(SandboxErrorCode.ORDERNOTEXIST)
    if trade.status == SandboxTrade.Status.PAID:
        raise DomainError(SandboxErrorCode.ORDERPAID)
    if trade.status == SandboxTrade.Status.CLOSED:
        raise DomainError(SandboxErrorCode.ORDERCLOSED)
    services.close_trade(trade=trade)
    return _ok(sign_type)


def contract_from_entrust_url(url: str) -> SandboxAgreement:
    """The signing request a papay/h5entrustweb or papay/entrustweb link carries, as the member's WeChat opens it:
    for scripts and `POST /sandbox/pay` without a browser."""
    parts = urlsplit(url)
    spec = rules.H5_SIGN if parts.path.endswith("/h5entrustweb") else rules.OFFICIAL_ACCOUNT_SIGN
    try:
        given, sign_type = rules.checked(dict(parse_qsl(parts.query, keep_blank_values=True)), spec)
    except rules.Refused as exc:
        raise DomainError(SandboxErrorCode.PARAM_ERROR, detail=str(exc)) from None
    return _sign_request(given, sign_type)
