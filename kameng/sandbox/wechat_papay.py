"""The sandbox's WeChat Pay 委托代扣 API v2 (direct merchant): H5 and 公众号 纯签约, 申请扣款, 查询订单, 查询签约关系,
申请解约. XML (or, for the signing entries, a URL query) signed with the APIv2 key by MD5 or HMAC-SHA256; each
request checked field by field against the page's list (an unknown, missing or mistyped field is PARAM_ERROR),
each answer signed the way the request was.

Pages (G = https://github.com/wechatpay-apiv3/wechatpay-skills/blob/main/wechatpay-deduction-service/references/
1-商户/): G + 接入指南/签名与验签规则.md (signatures, default sign types), G + 接入指南/开发参数与业务规则.md
(parameters, rules), G + 示例代码/1-用户签约/H5纯签约.md, …/公众号纯签约.md, G + 示例代码/2-代扣扣款/申请扣款.md,
G + 示例代码/4-订单协议查询/查询订单.md, …/查询签约关系.md, G + 示例代码/3-协议解约/申请解约.md.
"""

import hmac
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe

from kameng.core import clock
from kameng.core.errors import DomainError
from kameng.protocols import wechat_v2
from kameng.protocols.errors import ChannelProtocolError
from kameng.protocols.wechat import v2_sign
from kameng.sandbox import agreements, keys, papay, services
from kameng.sandbox.error_codes import SandboxErrorCode, WechatV2Refusal
from kameng.sandbox.faults import faulty
from kameng.sandbox.models import SandboxAgreement, SandboxTrade

SIGN_TYPES = ("MD5", "HMAC-SHA256")


@dataclass(frozen=True)
class Fields:
    """A request's documented fields: required, optional, and which hold integers."""

    required: frozenset[str]
    optional: frozenset[str] = frozenset()
    integers: frozenset[str] = frozenset()
    one_of: tuple[frozenset[str], ...] = ()  # at least one of these groups complete (查询: "任选其一")
    default_sign_type: str = "MD5"
    sign_types: tuple[str, ...] = SIGN_TYPES
    fixed: dict[str, str] = field(default_factory=dict)
    # 开发参数与业务规则 section 3.1: contract_code and out_trade_no "32 字符内"; longer is refused, never cut.
    max_lengths: dict[str, int] = field(default_factory=lambda: {"contract_code": 32, "out_trade_no": 32})


def _f(*names: str) -> frozenset[str]:
    return frozenset(names)


_SIGNER = _f("appid", "mch_id", "sign")
_USER_HINTS = _f("deviceid", "mobile", "email", "qq", "openid", "creid", "outerid")
# H5纯签约: default HMAC-SHA256 ("与 APP 预签约不同"); clientip required ("必须传 clientip").
H5_SIGN = Fields(
    required=_SIGNER
    | _f("plan_id", "contract_code", "request_serial", "contract_display_account", "notify_url", "version")
    | _f("timestamp", "clientip"),
    optional=_f("sign_type", "return_appid", "nonce_str") | _USER_HINTS,
    integers=_f("plan_id", "request_serial", "timestamp"),
    default_sign_type="HMAC-SHA256",
    fixed={"version": "1.0"},
)
# 公众号纯签约: "MD5（仅 MD5，不支持 HMAC-SHA256）".
OFFICIAL_ACCOUNT_SIGN = Fields(
    required=H5_SIGN.required - _f("clientip"),
    optional=_f("return_web", "clientip", "nonce_str") | _USER_HINTS,
    integers=H5_SIGN.integers,
    sign_types=("MD5",),
    fixed={"version": "1.0"},
)
# 申请扣款: trade_type 固定 PAP; total_fee in fen, an integer.
CHARGE = Fields(
    required=_SIGNER
    | _f("nonce_str", "body", "out_trade_no", "total_fee", "spbill_create_ip", "notify_url", "trade_type")
    | _f("contract_id"),
    optional=_f(
        "sign_type", "detail", "attach", "fee_type", "goods_tag", "timestamp", "clientip", "device_info"
    )
    | _USER_HINTS,
    integers=_f("total_fee", "timestamp"),
    fixed={"trade_type": "PAP", "fee_type": "CNY"},
)
ORDER_QUERY = Fields(
    required=_SIGNER | _f("nonce_str"),
    optional=_f("sign_type", "transaction_id", "out_trade_no"),
    one_of=(_f("transaction_id"), _f("out_trade_no")),
)
CLOSE_ORDER = Fields(required=_SIGNER | _f("nonce_str", "out_trade_no"), optional=_f("sign_type"))
CONTRACT_QUERY = Fields(
    required=_SIGNER | _f("version"),
    optional=_f("sign_type", "nonce_str", "contract_id", "plan_id", "contract_code", "openid"),
    integers=_f("plan_id"),
    one_of=(_f("contract_id"), _f("plan_id", "contract_code"), _f("plan_id", "openid")),
    fixed={"version": "1.0"},
)
CONTRACT_DELETE = Fields(
    required=_SIGNER | _f("version", "contract_termination_remark"),
    optional=_f("sign_type", "nonce_str", "contract_id", "plan_id", "contract_code"),
    integers=_f("plan_id"),
    one_of=(_f("contract_id"), _f("plan_id", "contract_code")),
    fixed={"version": "1.0"},
)


class Refused(Exception):
    """A request refused before any business rule: return_code FAIL (signature, format)."""


def _checked(params: Mapping[str, str], spec: Fields) -> tuple[dict[str, str], str]:
    """The request's non-empty fields and its sign type, once its signature and every field are as documented.

    签名与验签规则 section 2.2: empty values take no part in the signature ("传了空字符串和不传是同义")."""
    given = {k: v for k, v in params.items() if v != ""}
    sign_type = given.get("sign_type", spec.default_sign_type)
    if sign_type not in spec.sign_types:
        raise Refused("sign_type 不支持")
    expected = v2_sign(given, keys.sandbox_keys()["wechat_apiv2_key"], sign_type)
    # 签名与验签规则 section 三 3: compared without regard to case.
    if not hmac.compare_digest(expected, given.get("sign", "").upper()):
        raise Refused("签名错误")
    unknown = sorted(set(given) - spec.required - spec.optional)
    missing = sorted(spec.required - set(given))
    if unknown or missing:
        raise DomainError(SandboxErrorCode.PARAM_ERROR, detail=f"未知字段 {unknown} 缺少字段 {missing}")
    if spec.one_of and not any(group <= set(given) for group in spec.one_of):
        raise DomainError(SandboxErrorCode.PARAM_ERROR, detail="缺少查询条件")
    # 签名与验签规则 section 2.3: UTF-8 with 1–3 byte characters only; a 4-byte one (an emoji) is refused.
    if any(ord(char) > 0xFFFF for value in given.values() for char in value):
        raise DomainError(SandboxErrorCode.PARAM_ERROR, detail="不支持 4 字节字符")
    for name, limit in spec.max_lengths.items():
        if len(given.get(name, "")) > limit:
            raise DomainError(SandboxErrorCode.PARAM_ERROR, detail=f"{name} 超过 {limit} 个字符")
    for name in spec.integers & set(given):
        value = given[name]
        # 开发参数与业务规则 section 3.1: request_serial / timestamp digits only, no leading 0; timestamp ≥ 9 digits.
        # ASCII digits only (str.isdigit also takes "²" and "١٥"), and no more than a 64-bit integer holds.
        if (
            not (value.isascii() and value.isdigit())
            or value.startswith("0")
            or len(value) > 18
            or (name == "timestamp" and len(value) < 9)
        ):
            raise DomainError(SandboxErrorCode.PARAM_ERROR, detail=f"{name} 须为整数")
        # total_fee and plan_id are the pages' "Int": 32 bits (the rest, request_serial and timestamp, 64).
        if name in ("total_fee", "plan_id") and int(value) > 2**31 - 1:
            raise DomainError(SandboxErrorCode.PARAM_ERROR, detail=f"{name} 超出范围")
    for name, value in spec.fixed.items():
        if name in given and given[name] != value:
            raise DomainError(SandboxErrorCode.PARAM_ERROR, detail=f"{name} 须为 {value}")
    if given["appid"] != keys.WECHAT_APPID or given["mch_id"] != keys.WECHAT_MCHID:
        raise DomainError(SandboxErrorCode.PARAM_ERROR, detail="appid 与 mch_id 不匹配")
    return given, sign_type


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
    spec: Fields, params: Callable[[HttpRequest], Mapping[str, str]]
) -> Callable[
    [Callable[[HttpRequest, dict[str, str], str], HttpResponse]], Callable[[HttpRequest], HttpResponse]
]:
    """Parses and checks a v2 request; a refusal becomes return_code FAIL, a DomainError result_code FAIL."""

    def wrap(view):
        def handled(request: HttpRequest) -> HttpResponse:
            raw: Mapping[str, str] = {}
            try:
                raw = params(request)
                given, sign_type = _checked(raw, spec)
                return view(request, given, sign_type)
            except (Refused, ChannelProtocolError) as exc:
                return _xml({"return_code": "FAIL", "return_msg": str(exc)})
            except DomainError as exc:
                # Signed as the request was; result_msg is the H5 entry's name for it, err_code the others'.
                answer_type = (
                    raw.get("sign_type") if raw.get("sign_type") in SIGN_TYPES else spec.default_sign_type
                )
                fields = {
                    "result_msg": exc.code.value,
                    "err_code": exc.code.value,
                    "err_code_des": exc.message,
                }
                return _ok(answer_type, **fields, result_code="FAIL")

        return handled

    return wrap


_DECLARED_ENCODING = re.compile(rb"""\s*<\?xml[^>]*?\bencoding\s*=\s*["']([^"']*)["']""", re.IGNORECASE)


def _xml_body(request: HttpRequest) -> dict[str, str]:
    """The request's flat `<xml>` fields, or Refused as WeChat refuses a body it cannot read: never a 5xx, whatever
    the codec in `wechat_v2` lets through (ElementTree raises LookupError for an encoding it does not know, ValueError
    for one expat cannot take, not only ParseError). UTF-8 only: a body in, or declaring, another encoding is
    NOT_UTF8 before any parser sees it."""
    try:
        body = request.body
    except RequestDataTooBig:  # past Django's DATA_UPLOAD_MAX_MEMORY_SIZE
        raise Refused(WechatV2Refusal.XML_FORMAT_ERROR.return_msg) from None
    if not body.strip():
        raise Refused(WechatV2Refusal.POST_DATA_EMPTY.return_msg)
    declared = _DECLARED_ENCODING.match(body)
    try:
        body.decode("utf-8")
        if declared and declared.group(1).decode("ascii").lower().replace("_", "-") not in ("utf-8", "utf8"):
            raise UnicodeError(declared.group(1))
    except UnicodeError:
        raise Refused(WechatV2Refusal.NOT_UTF8.return_msg) from None
    try:
        return wechat_v2.from_xml(body)
    except (ChannelProtocolError, ET.ParseError, LookupError, ValueError):
        raise Refused(WechatV2Refusal.XML_FORMAT_ERROR.return_msg) from None


def _query(request: HttpRequest) -> dict[str, str]:
    return {key: request.GET.get(key, "") for key in request.GET}


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
@_v2_call(H5_SIGN, _query)
def h5_entrust(request, given: dict[str, str], sign_type: str) -> HttpResponse:
    """GET papay/h5entrustweb: answers the redirect_url of WeChat's signing page (here the sandbox's)."""
    contract = _sign_request(given, sign_type)
    return _ok(sign_type, redirect_url=agreements.wechat_sign_url(contract))


@require_safe
@_v2_call(OFFICIAL_ACCOUNT_SIGN, _query)
def official_account_entrust(request, given: dict[str, str], sign_type: str) -> HttpResponse:
    """GET papay/entrustweb: "无 XML 响应。微信会唤起签约页面" — the browser goes straight to the signing page."""
    return redirect(agreements.wechat_sign_url(_sign_request(given, sign_type)))


# --- charging and querying ---------------------------------------------------------------------------------------


@csrf_exempt  # a server API (v2 XML), signed by the merchant with the APIv2 key: no cookie involved
@require_POST
@faulty
@_v2_call(CHARGE, _xml_body)
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
@_v2_call(ORDER_QUERY, _xml_body)
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
@_v2_call(CLOSE_ORDER, _xml_body)
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


# --- contracts ----------------------------------------------------------------------------------------------------

# 查询签约关系 contract_state: 0 已签约, 1 未签约 (terminated), 9 签约进行中.
CONTRACT_STATE = {"NORMAL": "0", "UNSIGN": "1", "TEMP": "9"}


def _stamp(moment) -> str | None:
    return clock.local(moment).strftime("%Y-%m-%d %H:%M:%S") if moment else None


def _contract_of(given: dict[str, str]) -> SandboxAgreement:
    if given.get("plan_id") and given.get("openid") and not given.get("contract_code"):
        found = SandboxAgreement.objects.filter(
            channel="wechat", plan_id=int(given["plan_id"]), openid=given["openid"], status="NORMAL"
        ).first()
        if found is None:
            raise DomainError(SandboxErrorCode.CONTRACT_NOT_EXIST)
        return found
    plan_id = int(given["plan_id"]) if given.get("plan_id") else None
    return papay.find_contract(
        contract_id=given.get("contract_id", ""),
        plan_id=plan_id,
        contract_code=given.get("contract_code", ""),
    )


@csrf_exempt  # a server API (v2 XML), signed by the merchant with the APIv2 key: no cookie involved
@require_POST
@faulty
@_v2_call(CONTRACT_QUERY, _xml_body)
def query_contract(request, given: dict[str, str], sign_type: str) -> HttpResponse:
    """POST papay/querycontract."""
    contract = _contract_of(given)
    ended = contract.status == SandboxAgreement.Status.UNSIGN
    return _ok(
        sign_type,
        contract_id=contract.agreement_no,
        plan_id=contract.plan_id,
        contract_code=contract.external_no,
        request_serial=contract.request_serial,
        openid=contract.openid or None,
        contract_display_account=contract.account_label,
        contract_state=CONTRACT_STATE[contract.status],
        contract_signed_time=_stamp(contract.signed_at),
        contract_expired_time="2115-02-01 00:00:00" if contract.signed_at else None,
        contract_terminated_time=_stamp(contract.unsigned_at) if ended else None,
        contract_termination_mode={"user": "2", "merchant": "3"}.get(contract.unsigned_by) if ended else None,
    )


@csrf_exempt  # a server API (v2 XML), signed by the merchant with the APIv2 key: no cookie involved
@require_POST
@faulty
@_v2_call(CONTRACT_DELETE, _xml_body)
def delete_contract(request, given: dict[str, str], sign_type: str) -> HttpResponse:
    """POST papay/deletecontract: the DELETE notification goes to the template's termination URL."""
    contract = _contract_of(given)
    if contract.status != SandboxAgreement.Status.NORMAL:
        raise DomainError(SandboxErrorCode.CONTRACT_NOT_EXIST)
    agreements.unsign_agreement(agreement_no=contract.agreement_no, by="merchant")
    return _ok(
        sign_type,
        contract_id=contract.agreement_no,
        plan_id=contract.plan_id,
        contract_code=contract.external_no,
    )


def contract_from_entrust_url(url: str) -> SandboxAgreement:
    """The signing request a papay/h5entrustweb or papay/entrustweb link carries, as the member's WeChat opens it:
    for scripts and `POST /sandbox/pay` without a browser."""
    parts = urlsplit(url)
    spec = H5_SIGN if parts.path.endswith("/h5entrustweb") else OFFICIAL_ACCOUNT_SIGN
    try:
        given, sign_type = _checked(dict(parse_qsl(parts.query, keep_blank_values=True)), spec)
    except Refused as exc:
        raise DomainError(SandboxErrorCode.PARAM_ERROR, detail=str(exc)) from None
    return _sign_request(given, sign_type)
