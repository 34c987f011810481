"""What the sandbox's WeChat Pay 委托代扣 API v2 accepts: each request's documented fields (required, optional,
integers, fixed values, lengths, sign types) and their checking, signature first; and the reading of an XML body, which
answers anything WeChat could not read as WeChat does (return_code FAIL), never with a 5xx.

Pages: as in wechat_papay (签名与验签规则.md, 开发参数与业务规则.md, and each call's page).
"""

import hmac
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest

from kameng.core.errors import DomainError
from kameng.protocols import wechat_v2
from kameng.protocols.errors import ChannelProtocolError
from kameng.protocols.wechat import v2_sign
from kameng.sandbox import keys
from kameng.sandbox.error_codes import SandboxErrorCode, WechatV2Refusal

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


def checked(params: Mapping[str, str], spec: Fields) -> tuple[dict[str, str], str]:
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


_DECLARED_ENCODING = re.compile(rb"""\s*<\?xml[^>]*?\bencoding\s*=\s*["']([^"']*)["']""", re.IGNORECASE)


def xml_body(request: HttpRequest) -> dict[str, str]:
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


def query_params(request: HttpRequest) -> dict[str, str]:
    return {key: request.GET.get(key, "") for key in request.GET}
