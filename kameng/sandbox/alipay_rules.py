"""What the sandbox's Alipay gateway accepts, written from Alipay's pages and its official SDK's models, never from
the shop's adapter: the common request parameters, each API's biz_content fields (names, JSON types, required), the
amount format, and the 周期扣款 period rule.

Sources, cited again where each rule is applied:
* common parameters and the public error codes: the 公共请求参数 table on each API page, e.g.
  https://opendocs.alipay.com/apis/api_1/alipay.trade.create,
  https://opendocs.alipay.com/open/common/105806 (公共错误码);
* field names: alipay-sdk-python 3.7.1411, `alipay/aop/api/domain/<Model>.py` (the model each API's request takes);
* 周期扣款 rules: PeriodRuleParams in alipay-sdk-java (com.alipay.api.domain.PeriodRuleParams) and
  https://developer.aliyun.com/ask/285548 (Alipay's support: DAY periods of at least 7 days; MONTH execute_time on
  day 1..28).

Unknown fields are refused. Alipay itself tends to ignore a field it does not know; the sandbox refuses it so that
a misspelt field fails here rather than being silently dropped by the real gateway (docs/channels.md says so).
"""

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime

from kameng.core.clock import SHANGHAI
from kameng.core.money import parse_yuan
from kameng.sandbox.error_codes import AlipayGatewayError, SandboxErrorCode


class AlipayRefusal(Exception):
    """An answer other than 10000: a gateway-level error (40001/40002/20000) or a business one (40004)."""

    def __init__(self, code: AlipayGatewayError | SandboxErrorCode, detail: str = ""):
        super().__init__(f"{code.value}: {detail}")
        self.code = code
        self.detail = detail

    def answer(self, prefix: str) -> dict[str, str]:
        """The answer's code, msg, sub_code and sub_msg; `prefix` is the API's business prefix (ACQ. or none)."""
        if isinstance(self.code, AlipayGatewayError):
            sub_msg = self.code.sub_msg + (f":{self.detail}" if self.detail else "")
            return {
                "code": self.code.code,
                "msg": self.code.msg,
                "sub_code": self.code.value,
                "sub_msg": sub_msg,
            }
        sub_msg = self.detail or self.code.render()
        return {
            "code": "40004",
            "msg": "Business Failed",
            "sub_code": f"{prefix}{self.code.value}",
            "sub_msg": sub_msg,
        }


def invalid(detail: str) -> AlipayRefusal:
    """The APIs' own 参数无效 (ACQ.INVALID_PARAMETER on the acquiring APIs), naming the field and the rule."""
    return AlipayRefusal(SandboxErrorCode.INVALID_PARAMETER, f"参数无效:{detail}")


# --- common parameters (公共请求参数) -------------------------------------------------

_REQUIRED_COMMON = (
    ("app_id", AlipayGatewayError.MISSING_APP_ID),
    ("method", AlipayGatewayError.MISSING_METHOD),
    ("sign_type", AlipayGatewayError.MISSING_SIGNATURE_TYPE),
    ("sign", AlipayGatewayError.MISSING_SIGNATURE),
    ("timestamp", AlipayGatewayError.MISSING_TIMESTAMP),
    ("version", AlipayGatewayError.MISSING_VERSION),
)


def check_common(params: dict[str, str]) -> None:
    """The common parameters every call carries, in the order Alipay's table lists them. The signature itself is
    checked by the caller (it needs the app's key)."""
    for name, missing in _REQUIRED_COMMON:
        if not params.get(name):
            raise AlipayRefusal(missing)
    if params["sign_type"] != "RSA2":  # the sandbox app is configured with an RSA2 key only
        raise AlipayRefusal(AlipayGatewayError.INVALID_SIGNATURE_TYPE)
    try:
        # "yyyy-MM-dd HH:mm:ss", Beijing time
        datetime.strptime(params["timestamp"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI)
    except ValueError:
        raise AlipayRefusal(AlipayGatewayError.INVALID_TIMESTAMP) from None
    if params["version"] != "1.0":  # 调用的接口版本,固定为:1.0
        raise AlipayRefusal(AlipayGatewayError.INVALID_PARAMETER, "version")
    # charset: 请求使用的编码格式; the sandbox reads UTF-8 bodies only.
    if params.get("charset", "utf-8").lower() not in ("utf-8", "utf8"):
        raise AlipayRefusal(AlipayGatewayError.INVALID_CHARSET)
    if params.get("format", "JSON").upper() != "JSON":  # 仅支持JSON
        raise AlipayRefusal(AlipayGatewayError.INVALID_FORMAT)


# --- biz_content fields ---------------------------------------------------------------------------------------------

STRING, PRICE, INTEGER, OBJECT, LIST, BOOLEAN = "string", "price", "integer", "object", "list", "boolean"


@dataclass(frozen=True)
class Field:
    kind: str = STRING
    required: bool = False
    max_len: int | None = None
    nested: dict[str, "Field"] | None = field(default=None)  # an object whose own fields are checked


def _open(names: str, kinds: dict[str, Field] | None = None) -> dict[str, Field]:
    """A model's field names (alipay-sdk-python's domain model, in its order), all optional strings unless
    `kinds` says otherwise. Nested objects the sandbox does not play (extend_params, goods_detail…) are checked for
    their JSON type only."""
    fields = {name: Field() for name in names.split()}
    for name, kind in (kinds or {}).items():
        if name not in fields:
            raise ValueError(f"{name} is not in the model")  # a typo here would silently allow a field
        fields[name] = kind
    return fields


# Amounts: 单位为元,精确到小数点后两位,取值范围:[0.01,100000000] (alipay.trade.*: total_amount, refund_amount).
_AMOUNT = re.compile(r"\d+(\.\d{1,2})?")
MAX_AMOUNT_FEN = 100_000_000 * 100
# out_trade_no: 64个字符以内,仅支持字母、数字、下划线 (alipay.trade.wap.pay / precreate / pay pages).
_OUT_TRADE_NO = re.compile(r"[A-Za-z0-9_]{1,64}")
# external_agreement_no: 支持大写小写字母和数字,最长32位 (alipay.user.agreement.page.sign).
_EXTERNAL_AGREEMENT_NO = re.compile(r"[A-Za-z0-9]{1,32}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

ACCESS_PARAMS = _open("channel")  # AccessParams
PERIOD_RULE_PARAMS = _open(  # PeriodRuleParams
    "execute_time is_trial_mode period period_type scene_rule_params single_amount total_amount total_payments",
    {
        "execute_time": Field(required=True),
        "is_trial_mode": Field(BOOLEAN),
        "period": Field(INTEGER, required=True),
        "period_type": Field(required=True, max_len=20),
        "scene_rule_params": Field(OBJECT),
        "single_amount": Field(PRICE, required=True),
        "total_amount": Field(PRICE),
        "total_payments": Field(INTEGER),
    },
)
AGREEMENT_PARAMS = _open("agreement_no apply_token auth_confirm_no deduct_permission")  # AgreementParams
# agreement_sign_params: the 支付并签约 structure. alipay.trade.app.pay's model is SignParams (with
# period_rule_params, access_params, sign_notify_url); alipay.trade.page.pay's is AgreementSignParams. The sandbox
# takes the union of both for wap.pay and page.pay, as the 周期扣款 支付并签约 guide passes period_rule_params.
AGREEMENT_SIGN_PARAMS = _open(
    "access_params allow_huazhi_degrade effect_time external_agreement_no external_logon_id period_rule_params "
    "personal_product_code product_code recommend_sort_channel_params sign_notify_url sign_scene "
    "specified_deduct_rule_params sub_merchant buckle_app_id buckle_merchant_id promo_params sign_validity_period "
    "third_party_type",
    {
        "access_params": Field(OBJECT, nested=ACCESS_PARAMS),
        "allow_huazhi_degrade": Field(BOOLEAN),
        "external_agreement_no": Field(max_len=32),
        "external_logon_id": Field(max_len=100),
        "period_rule_params": Field(OBJECT, nested=PERIOD_RULE_PARAMS),
        "personal_product_code": Field(required=True, max_len=64),
        "recommend_sort_channel_params": Field(LIST),
        "specified_deduct_rule_params": Field(OBJECT),
        "sub_merchant": Field(OBJECT),
    },
)

_TRADE_COMMON = {
    "out_trade_no": Field(required=True, max_len=64),
    "total_amount": Field(PRICE, required=True),
    "subject": Field(required=True, max_len=256),
    "ext_user_info": Field(OBJECT),
    "extend_params": Field(OBJECT),
    "goods_detail": Field(LIST),
    "query_options": Field(LIST),
    "royalty_info": Field(OBJECT),
    "settle_info": Field(OBJECT),
    "sub_merchant": Field(OBJECT),
}

SCHEMAS: dict[str, dict[str, Field]] = {
    # AlipayTradeWapPayModel (+ agreement_sign_params for 支付并签约, see above)
    "alipay.trade.wap.pay": _open(
        "auth_token body business_params disable_pay_channels enable_pay_channels ext_user_info extend_params "
        "goods_detail goods_type invoice_info merchant_order_no out_trade_no passback_params product_code "
        "promo_params query_options quit_url royalty_info seller_id settle_info specified_channel store_id "
        "sub_merchant subject time_expire timeout_express total_amount agreement_sign_params",
        {
            **_TRADE_COMMON,
            "invoice_info": Field(OBJECT),
            "product_code": Field(required=True, max_len=64),
            "agreement_sign_params": Field(OBJECT, nested=AGREEMENT_SIGN_PARAMS),
        },
    ),
    # AlipayTradePagePayModel
    "alipay.trade.page.pay": _open(
        "agreement_sign_params body business_params disable_pay_channels enable_pay_channels ext_user_info "
        "extend_params goods_detail goods_type integration_type invoice_info merchant_order_no out_trade_no "
        "passback_params product_code promo_params qr_pay_mode qrcode_width query_options request_from_url "
        "royalty_info settle_info store_id sub_merchant subject time_expire timeout_express total_amount",
        {
            **_TRADE_COMMON,
            "invoice_info": Field(OBJECT),
            "product_code": Field(required=True, max_len=64),  # FAST_INSTANT_TRADE_PAY, or CYCLE_PAY_AUTH
            "qrcode_width": Field(INTEGER),
            "agreement_sign_params": Field(OBJECT, nested=AGREEMENT_SIGN_PARAMS),
        },
    ),
    # AlipayTradePrecreateModel
    "alipay.trade.precreate": _open(
        "alipay_store_id bkagent_req_info body business_params buyer_logon_id code_type disable_pay_channels "
        "discountable_amount enable_pay_channels ext_user_info extend_params goods_detail merchant_order_no "
        "operator_id out_trade_no passback_params payment_type product_code qr_code_timeout_express query_options "
        "royalty_info seller_id settle_info store_id sub_merchant subject terminal_id time_expire timeout_express "
        "total_amount undiscountable_amount",
        {
            **_TRADE_COMMON,
            "bkagent_req_info": Field(OBJECT),
            "business_params": Field(OBJECT),
            "discountable_amount": Field(PRICE),
            "undiscountable_amount": Field(PRICE),
        },
    ),
    # AlipayTradePayModel
    "alipay.trade.pay": _open(
        "advance_payment_type agreement_params alipay_store_id auth_code auth_confirm_mode auth_no "
        "bkagent_req_info body business_params buyer_id buyer_open_id disable_pay_channels discountable_amount "
        "ext_user_info extend_params goods_detail is_async_pay merchant_order_no operator_id out_trade_no "
        "passback_params pay_params product_code promo_params query_options request_org_pid royalty_info scene "
        "seller_id settle_currency settle_info store_id sub_merchant subject terminal_id terminal_params "
        "time_expire timeout_express total_amount trans_currency undiscountable_amount",
        {
            **_TRADE_COMMON,
            "agreement_params": Field(OBJECT, nested=AGREEMENT_PARAMS),
            "bkagent_req_info": Field(OBJECT),
            "business_params": Field(OBJECT),
            "discountable_amount": Field(PRICE),
            "is_async_pay": Field(BOOLEAN),
            "pay_params": Field(OBJECT),
            "promo_params": Field(OBJECT),
            "undiscountable_amount": Field(PRICE),
        },
    ),
    # AlipayTradeRefundModel (out_trade_no or trade_no: checked by the API)
    "alipay.trade.refund": _open(
        "goods_detail operator_id org_pid out_request_no out_trade_no query_options refund_advance_account "
        "refund_advance_account_type refund_amount refund_currency refund_goods_detail refund_reason "
        "refund_royalty_parameters refund_trans_out refund_trans_out_type related_settle_confirm_no store_id "
        "terminal_id trade_no",
        {
            "goods_detail": Field(LIST),
            "out_request_no": Field(max_len=64),
            "out_trade_no": Field(max_len=64),
            "query_options": Field(LIST),
            "refund_amount": Field(PRICE, required=True),
            "refund_goods_detail": Field(LIST),
            "refund_reason": Field(max_len=256),
            "refund_royalty_parameters": Field(LIST),
            "trade_no": Field(max_len=64),
        },
    ),
    # AlipayTradeQueryModel (out_trade_no or trade_no: checked by the API)
    "alipay.trade.query": _open(
        "org_pid out_trade_no query_options trade_no",
        {"out_trade_no": Field(max_len=64), "trade_no": Field(max_len=64), "query_options": Field(LIST)},
    ),
    # AlipayTradeCloseModel
    "alipay.trade.close": _open(
        "extend_params operator_id out_trade_no trade_no",
        {"out_trade_no": Field(max_len=64), "trade_no": Field(max_len=64), "extend_params": Field(OBJECT)},
    ),
    # AlipayTradeFastpayRefundQueryModel: out_request_no names the refund (the trade's number when the refund
    # request gave none)
    "alipay.trade.fastpay.refund.query": _open(
        "org_pid out_request_no out_trade_no query_options trade_no",
        {
            "out_request_no": Field(required=True, max_len=64),
            "out_trade_no": Field(max_len=64),
            "trade_no": Field(max_len=64),
            "query_options": Field(LIST),
        },
    ),
    # AlipayUserAgreementPageSignModel
    "alipay.user.agreement.page.sign": _open(
        "access_params agreement_effect_type allow_huazhi_degrade device_params effect_time external_agreement_no "
        "external_logon_id identity_params merchant_process_url ori_agreement_no out_risk_info pass_params "
        "period_rule_params personal_product_code prod_params product_code promo_params sign_scene "
        "sign_sub_operate_type sign_validity_period specified_asset specified_deduct_rule_params "
        "specified_sort_channel_params sub_merchant third_party_type user_age_range zm_auth_params",
        {
            "access_params": Field(OBJECT, required=True, nested=ACCESS_PARAMS),  # 必选
            "allow_huazhi_degrade": Field(BOOLEAN),
            "device_params": Field(OBJECT),
            "external_agreement_no": Field(max_len=32),
            "external_logon_id": Field(max_len=100),
            "identity_params": Field(OBJECT),
            "period_rule_params": Field(OBJECT, nested=PERIOD_RULE_PARAMS),
            "personal_product_code": Field(required=True, max_len=64),
            "prod_params": Field(OBJECT),
            "specified_asset": Field(OBJECT),
            "specified_deduct_rule_params": Field(OBJECT),
            "specified_sort_channel_params": Field(OBJECT),
            "sub_merchant": Field(OBJECT),
            "zm_auth_params": Field(OBJECT),
        },
    ),
    # AlipayUserAgreementUnsignModel / AlipayUserAgreementQueryModel
    "alipay.user.agreement.unsign": _open(
        "agreement_no alipay_logon_id alipay_open_id alipay_user_id extend_params external_agreement_no "
        "operate_type personal_product_code sign_scene third_party_type",
        {"agreement_no": Field(max_len=64), "external_agreement_no": Field(max_len=32)},
    ),
    "alipay.user.agreement.query": _open(
        "agreement_no alipay_logon_id alipay_open_id alipay_user_id external_agreement_no personal_product_code "
        "sign_scene third_party_type",
        {"agreement_no": Field(max_len=64), "external_agreement_no": Field(max_len=32)},
    ),
}

_JSON_TYPES = {
    STRING: (str,),
    PRICE: (str, int, float),  # SDKs send "9.00" or 9.0: both are read as a price
    INTEGER: (int, str),  # a Long; "3" is read as 3
    OBJECT: (dict,),
    LIST: (list,),
    BOOLEAN: (bool, str),
}


def _check_fields(value: dict, schema: dict[str, Field], path: str) -> None:
    for name in value:
        if name not in schema:
            raise invalid(f"未知参数 {path}{name}")
    for name, spec in schema.items():
        if name not in value or value[name] in (None, ""):
            if spec.required:
                raise invalid(f"缺少必选参数 {path}{name}")
            continue
        item = value[name]
        # bool is an int in Python: a true/false is never a price, a Long or a string.
        if not isinstance(item, _JSON_TYPES[spec.kind]) or (isinstance(item, bool) and spec.kind != BOOLEAN):
            raise invalid(f"{path}{name} 类型错误,应为 {spec.kind}")
        if spec.kind == INTEGER and isinstance(item, str) and not item.isdigit():
            raise invalid(f"{path}{name} 类型错误,应为 {spec.kind}")
        if spec.kind == BOOLEAN and isinstance(item, str) and item not in ("true", "false"):
            raise invalid(f"{path}{name} 类型错误,应为 {spec.kind}")
        if spec.max_len is not None and len(item) > spec.max_len:
            raise invalid(f"{path}{name} 超过最大长度 {spec.max_len}")
        if spec.nested is not None:
            _check_fields(item, spec.nested, f"{path}{name}.")


def biz_content(method: str, params: dict[str, str]) -> dict:
    """The request's biz_content, parsed and checked against the method's model: a JSON object, only the model's
    fields, each of its JSON type, the required ones present. Raises AlipayRefusal."""
    biz = biz_content_object(params)
    _check_fields(biz, SCHEMAS[method], "")
    return biz


def biz_content_object(params: dict[str, str]) -> dict:
    """biz_content as a JSON object (请求参数的集合), unchecked beyond that. Raises AlipayRefusal."""
    text = params.get("biz_content")
    if not text:
        raise AlipayRefusal(AlipayGatewayError.INVALID_PARAMETER, "缺少 biz_content")
    try:
        biz = json.loads(text)
    except ValueError:
        raise invalid("biz_content 不是 JSON") from None
    if not isinstance(biz, dict):
        raise invalid("biz_content 不是 JSON 对象")
    return biz


def amount_fen(value: object, name: str) -> int:
    """An amount in yuan as Alipay reads it: \\d+(\\.\\d{1,2})?, within [0.01, 100000000]."""
    text = format(value, "f").rstrip("0").rstrip(".") if isinstance(value, float) else str(value)
    if not _AMOUNT.fullmatch(text):
        raise invalid(f"{name} 格式错误,单位为元,精确到小数点后两位")
    fen = parse_yuan(text)
    if fen < 1:
        raise invalid(f"{name} 取值范围 [0.01,100000000]")
    if fen > MAX_AMOUNT_FEN:
        raise AlipayRefusal(SandboxErrorCode.TOTAL_FEE_EXCEED)
    return fen


def out_trade_no(biz: dict) -> str:
    value = biz["out_trade_no"]
    if not _OUT_TRADE_NO.fullmatch(value):
        raise invalid("out_trade_no 仅支持字母、数字、下划线,64个字符以内")
    return value


# --- 周期扣款: the signed schedule ----------------------------------------------------------------------------------

CYCLE_PRODUCT = "CYCLE_PAY_AUTH"  # 周期扣款销售产品码
CYCLE_PERSONAL_PRODUCT = "CYCLE_PAY_AUTH_P"  # 周期扣款个人签约产品码
MIN_DAY_PERIOD = 7  # 周期扣款最短周期为7天 (https://developer.aliyun.com/ask/285548)
LAST_MONTH_DAY = 28  # MONTH: execute_time 不允许传28日之后的日期 (PeriodRuleParams)


@dataclass(frozen=True)
class CycleRule:
    period_type: str  # DAY | MONTH
    period: int
    execute_date: date
    single_amount_fen: int
    total_amount_fen: int | None
    total_payments: int | None


def cycle_rule(sign: dict) -> CycleRule:
    """period_rule_params of a 周期扣款 sign request (page.sign's biz_content or agreement_sign_params), checked:
    required for CYCLE_PAY_AUTH_P ("在签约周期扣款产品(如CYCLE_PAY_AUTH_P)时必传"), period_type DAY|MONTH, a DAY
    period of at least 7, a MONTH execute_time on day 1..28, execute_time as yyyy-MM-dd."""
    if sign.get("personal_product_code") != CYCLE_PERSONAL_PRODUCT:
        raise AlipayRefusal(SandboxErrorCode.ACCESS_FORBIDDEN, "沙箱只签约周期扣款 CYCLE_PAY_AUTH_P")
    # sign_scene: 当传入商户签约号 external_agreement_no 时,本参数必填,不能为默认值 DEFAULT|DEFAULT.
    if sign.get("external_agreement_no"):
        if not _EXTERNAL_AGREEMENT_NO.fullmatch(sign["external_agreement_no"]):
            raise invalid("external_agreement_no 支持大写小写字母和数字,最长32位")
        if sign.get("sign_scene") in (None, "", "DEFAULT|DEFAULT"):
            raise invalid("传入 external_agreement_no 时 sign_scene 必填且不能为 DEFAULT|DEFAULT")
    rule = sign.get("period_rule_params")
    if not rule:
        raise invalid("周期扣款签约必传 period_rule_params")
    period_type, period = rule["period_type"], int(rule["period"])
    try:
        if not _DATE.fullmatch(rule["execute_time"]):
            raise ValueError("not yyyy-MM-dd")
        execute_date = date.fromisoformat(rule["execute_time"])
    except ValueError:
        raise invalid("period_rule_params.execute_time 格式为 yyyy-MM-dd") from None
    if period_type not in ("DAY", "MONTH"):
        raise invalid("period_rule_params.period_type 枚举值为 DAY 和 MONTH")
    if period_type == "DAY" and period < MIN_DAY_PERIOD:
        raise invalid("period_type 为 DAY 时 period 最少为 7")
    if period_type == "MONTH" and period < 1:
        raise invalid("period 至少为 1")
    if period_type == "MONTH" and execute_date.day > LAST_MONTH_DAY:
        raise invalid("period_type 为 MONTH 时 execute_time 不允许传28日之后的日期")
    total_amount = rule.get("total_amount")
    total_payments = rule.get("total_payments")
    return CycleRule(
        period_type=period_type,
        period=period,
        execute_date=execute_date,
        single_amount_fen=amount_fen(rule["single_amount"], "period_rule_params.single_amount"),
        total_amount_fen=amount_fen(total_amount, "period_rule_params.total_amount")
        if total_amount
        else None,
        total_payments=int(total_payments) if total_payments else None,
    )
