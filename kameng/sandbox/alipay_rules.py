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
from dataclasses import dataclass
from datetime import date, datetime

from kameng.core.clock import SHANGHAI
from kameng.core.money import parse_yuan
from kameng.sandbox.alipay_fields import BOOLEAN, INTEGER, LIST, OBJECT, PRICE, SCHEMAS, STRING, Field
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


# --- biz_content fields (the tables: alipay_fields) -------------------------------------------------------------

# Amounts: 单位为元,精确到小数点后两位,取值范围:[0.01,100000000] (alipay.trade.*: total_amount, refund_amount).
_AMOUNT = re.compile(r"\d+(\.\d{1,2})?")
MAX_AMOUNT_FEN = 100_000_000 * 100
# out_trade_no: 64个字符以内,仅支持字母、数字、下划线 (alipay.trade.wap.pay / precreate / pay pages).
_OUT_TRADE_NO = re.compile(r"[A-Za-z0-9_]{1,64}")
# external_agreement_no: 支持大写小写字母和数字,最长32位 (alipay.user.agreement.page.sign).
_EXTERNAL_AGREEMENT_NO = re.compile(r"[A-Za-z0-9]{1,32}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

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
        # ASCII digits only, at most 18 of them: str.isdigit() also takes "²" and "١٥", which int() refuses or
        # reads as another number.
        if (
            spec.kind == INTEGER
            and isinstance(item, str)
            and not (item.isascii() and item.isdigit() and len(item) <= 18)
        ):
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
