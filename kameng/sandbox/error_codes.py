"""The sandbox gateway's refusals. The upper-case codes are the channels' own (Alipay's sub_code, WeChat Pay's
code), kept verbatim because the shop's channel clients match on them exactly as they do with the real channels.
The messages stay in Chinese, untranslated: the real channels answer in Chinese whatever the caller's language.
The two about who may use the sandbox are the shop's own words, and translated."""

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
