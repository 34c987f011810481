from django.conf import settings
from django.urls import path

from kameng.sandbox import alipay_views, views, wechat_views

app_name = "sandbox"
urlpatterns = (
    [
        path("alipay/gateway.do", alipay_views.alipay_gateway, name="alipay-gateway"),
        path("alipay/qr/<slug:trade_no>", alipay_views.alipay_qr, name="alipay-qr"),
        path("wechat/v3/pay/transactions/h5", wechat_views.wechat_h5_prepay, name="wechat-h5-prepay"),
        path("wechat/v3/refund/domestic/refunds", wechat_views.wechat_refund, name="wechat-refund"),
        path("wechat/h5/<slug:prepay_id>", wechat_views.wechat_h5_page, name="wechat-h5"),
        path(
            "wechat/v3/papay/scheduled-deduct-sign/contracts/pre-entrust-sign/h5",
            wechat_views.wechat_pre_entrust_sign,
            name="wechat-pre-entrust-sign",
        ),
        path(
            "wechat/v3/papay/pay/transactions/apply",
            wechat_views.wechat_papay_apply,
            name="wechat-papay-apply",
        ),
        path(
            "wechat/v3/papay/sign/contracts/plan-id/<slug:plan_id>/out-contract-code/<slug:out_contract_code>",
            wechat_views.wechat_contract,
            name="wechat-contract",
        ),
        path(
            "wechat/v3/papay/sign/contracts/plan-id/<slug:plan_id>/out-contract-code/<slug:out_contract_code>/"
            "<slug:action>",
            wechat_views.wechat_contract,
            name="wechat-contract-action",
        ),
        path("agreements/", views.agreement_settings, name="agreement-settings"),
        path("agreements/<slug:external_no>/sign", views.agreement_sign, name="agreement-sign"),
        path("agreements/<slug:agreement_no>/unsign", views.agreement_unsign, name="agreement-unsign"),
        path("pay/<slug:order_no>", views.pay, name="pay"),
    ]
    if settings.KAMENG_SANDBOX
    else []
)
