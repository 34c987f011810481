"""The sandbox gateway's refusals. The upper-case codes are the channels' own (Alipay's sub_code, WeChat Pay's
code), kept verbatim because the shop's channel clients match on them exactly as they do with the real channels.
The messages stay in Chinese, untranslated: the real channels answer in Chinese whatever the caller's language.
The two about who may use the sandbox are the shop's own words, and translated."""

from enum import StrEnum

from django.utils.translation import gettext_lazy as _

from kameng.core.errors import ErrorCode


class SandboxErrorCode(ErrorCode):
    SANDBOX_OFF = "not_found", 404, "沙箱未开启"
    UNKNOWN_ORDER = "unknown_order", 404, "订单不存在"
    BAD_AMOUNT = "bad_amount", 422, "金额必须为正数"
    TRADE_EXISTS = "trade_exists", 409, "同一商户订单号已有金额不同的交易"
    INVALID_APP_ID = "invalid_app_id", 422, "未知的 app_id"
    INVALID_SIGNATURE = "invalid_signature", 422, "验签出错"
    INVALID_METHOD = "invalid_method", 422, "不支持的接口"
    INVALID_BIZ_CONTENT = "invalid_parameter", 422, "biz_content 参数无效"
    UNKNOWN_TRADE = "unknown_trade", 404, "预支付交易不存在"
    UNKNOWN_AGREEMENT = "unknown_agreement", 404, "协议不存在"
    TRADE_NOT_EXIST = "TRADE_NOT_EXIST", 404, "交易不存在或未支付"
    # alipay.trade.close on a trade that is not waiting for the buyer; paying a trade the merchant closed.
    TRADE_STATUS_ERROR = "TRADE_STATUS_ERROR", 409, "交易状态不合法"
    TRADE_HAS_CLOSE = "TRADE_HAS_CLOSE", 409, "交易已经关闭"
    REFUND_CONFLICT = "INVALID_REQUEST", 409, "退款单号相同但金额不同"
    REFUND_AMT_EXCEED = "REFUND_AMT_EXCEED", 409, "退款金额超过已付金额"
    INVALID_PARAMETER = (
        "INVALID_PARAMETER",
        422,
        "参数无效:外部协议号最多 32 位字母数字,周期须为 1、3 或 12 个月",
    )
    AGREEMENT_HAS_UNSIGNED = "AGREEMENT_HAS_UNSIGNED", 409, "协议已解约"
    USER_AGREEMENT_NOT_EXIST = "USER_AGREEMENT_NOT_EXIST", 404, "用户协议不存在"
    AGREEMENT_NOT_EXIST = "AGREEMENT_NOT_EXIST", 404, "协议不存在"
    AGREEMENT_INVALID = "AGREEMENT_INVALID", 409, "协议未生效"
    EXCEED_SINGLE_AMOUNT = "EXCEED_SINGLE_AMOUNT", 409, "扣款金额超过签约的单笔上限"
    BUYER_BALANCE_NOT_ENOUGH = "BUYER_BALANCE_NOT_ENOUGH", 409, "余额不足"
    # Alipay's business codes (40004, prefixed ACQ. on the acquiring APIs), as its API pages and its support
    # answers name them: 周期扣款 https://developer.aliyun.com/ask/285581 (date), /285590 (single amount),
    # /285589 and /285588 (totals); alipay.trade.precreate / alipay.trade.pay error tables for the rest.
    TOTAL_FEE_EXCEED = "TOTAL_FEE_EXCEED", 422, "订单金额超过限额"
    TRADE_HAS_SUCCESS = "TRADE_HAS_SUCCESS", 409, "交易已被支付"
    ACCESS_FORBIDDEN = "ACCESS_FORBIDDEN", 403, "无权限使用该产品"
    AGREEMENT_STATUS_NOT_NORMAL = "AGREEMENT_STATUS_NOT_NORMAL", 409, "用户协议状态非NORMAL"
    CYCLE_PAY_DATE_NOT_MATCH = "CYCLE_PAY_DATE_NOT_MATCH", 409, "扣款日期不在签约时的允许范围之内"
    CYCLE_PAY_SINGLE_FEE_EXCEED = "CYCLE_PAY_SINGLE_FEE_EXCEED", 409, "周期扣款的单笔金额超过签约时限制"
    CYCLE_PAY_TOTAL_FEE_EXCEED = "CYCLE_PAY_TOTAL_FEE_EXCEED", 409, "周期扣款的累计金额超过签约时限制"
    CYCLE_PAY_TOTAL_TIMES_EXCEED = "CYCLE_PAY_TOTAL_TIMES_EXCEED", 409, "周期扣款的总次数超过签约时限制"
    # WeChat Pay's own codes (v3: the HTTP status is the code's; v2 papay answers HTTP 200 with the code in err_code).
    # Pages: https://pay.weixin.qq.com/docs/merchant/apis/h5-payment/close-order.html (公共错误码, 业务错误码) and the
    # 委托代扣 guide, wechatpay-apiv3/wechatpay-skills wechatpay-deduction-service/references/1-商户/示例代码/.
    PARAM_ERROR = "PARAM_ERROR", 400, "参数错误:%(detail)s"
    SIGN_ERROR = "SIGN_ERROR", 401, "签名错误"
    ORDER_NOT_EXIST = "ORDER_NOT_EXIST", 404, "订单不存在"
    REFUND_NOT_EXISTS = "RESOURCE_NOT_EXISTS", 404, "退款单不存在"
    TRADE_ERROR = "TRADE_ERROR", 403, "交易错误:%(detail)s"
    CONTRACT_NOT_EXIST = "CONTRACT_NOT_EXIST", 404, "签约协议不存在"
    RESOURCE_ALREADY_EXISTS = "RESOURCE_ALREADY_EXISTS", 400, "资源已经存在:本周期的预扣费通知已成功发送"
    RULELIMIT = "RULELIMIT", 403, "业务规则限制:%(detail)s"
    ORDERPAID = "ORDERPAID", 200, "订单已支付"
    ORDERCLOSED = "ORDERCLOSED", 200, "订单已关闭,请更换商户订单号"
    ORDERNOTEXIST = "ORDERNOTEXIST", 200, "此交易订单号不存在"
    LOGIN_REQUIRED = "login_required", 401, _("请先登录商城,自动续费管理只显示你自己的协议")
    STAFF_ONLY = "staff_only", 403, _("只有工作人员可以拨动沙箱时钟或立即运行到期任务")


class AlipayGatewayError(StrEnum):
    """Alipay's gateway-level answers, before any business logic: the public error code table
    (https://opendocs.alipay.com/open/common/105806, 公共错误码). The value is the sub_code; `code` and `msg` are the
    family (40001 Missing Required Arguments, 40002 Invalid Arguments, 20000 Service Currently Unavailable)."""

    code: str
    msg: str
    sub_msg: str

    def __new__(cls, sub_code: str, code: str, sub_msg: str):
        member = str.__new__(cls, sub_code)
        member._value_ = sub_code
        member.code = code
        member.msg = {
            "40001": "Missing Required Arguments",
            "40002": "Invalid Arguments",
            "20000": "Service Currently Unavailable",
        }[code]
        member.sub_msg = sub_msg
        return member

    MISSING_METHOD = "isv.missing-method", "40001", "缺少方法名参数"
    MISSING_SIGNATURE = "isv.missing-signature", "40001", "缺少签名参数"
    MISSING_SIGNATURE_TYPE = "isv.missing-signature-type", "40001", "缺少签名类型参数"
    MISSING_APP_ID = "isv.missing-app-id", "40001", "缺少appId参数"
    MISSING_TIMESTAMP = "isv.missing-timestamp", "40001", "缺少时间戳参数"
    MISSING_VERSION = "isv.missing-version", "40001", "缺少版本参数"
    INVALID_PARAMETER = "isv.invalid-parameter", "40002", "参数无效"
    INVALID_METHOD = "isv.invalid-method", "40002", "不存在的方法名"
    INVALID_FORMAT = "isv.invalid-format", "40002", "无效的数据格式"
    INVALID_SIGNATURE_TYPE = "isv.invalid-signature-type", "40002", "无效的签名类型"
    INVALID_SIGNATURE = "isv.invalid-signature", "40002", "验签出错"
    INVALID_APP_ID = "isv.invalid-app-id", "40002", "无效的AppID参数"
    INVALID_TIMESTAMP = "isv.invalid-timestamp", "40002", "非法的时间戳参数"
    INVALID_CHARSET = "isv.invalid-charset", "40002", "字符集错误"
    UNKNOWN_ERROR = "isp.unknow-error", "20000", "服务暂不可用（业务系统不可用）"


class WechatV2Refusal(StrEnum):
    """WeChat Pay v2's answers to a body it cannot read, before any signature or business rule: `return_code` FAIL
    with the code's description as `return_msg`, unsigned. Codes and words from the v2 pages' error tables (申请扣款
    https://pay.weixin.qq.com/doc/v2/merchant/4011987377.md); UTF-8 only per the 委托代扣 guide's 签名与验签规则
    section 2.3 (wechatpay-apiv3/wechatpay-skills wechatpay-deduction-service/references/1-商户/接入指南/)."""

    return_msg: str

    def __new__(cls, code: str, return_msg: str):
        member = str.__new__(cls, code)
        member._value_ = code
        member.return_msg = return_msg
        return member

    POST_DATA_EMPTY = "POST_DATA_EMPTY", "post数据为空"
    NOT_UTF8 = "NOT_UTF8", "编码格式错误"
    XML_FORMAT_ERROR = "XML_FORMAT_ERROR", "XML格式错误"
