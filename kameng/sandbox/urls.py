from django.conf import settings
from django.urls import path

from kameng.sandbox import (
    alipay_views,
    views,
    wechat_papay,
    wechat_papay_contracts,
    wechat_v3_queries,
    wechat_views,
)

app_name = "sandbox"
urlpatterns = (
    [
        path("alipay/gateway.do", alipay_views.alipay_gateway, name="alipay-gateway"),
        path("alipay/qr/<slug:trade_no>", alipay_views.alipay_qr, name="alipay-qr"),
        # WeChat Pay API v3 (JSON, RSA): prepay, query, close, refunds, and the 委托代扣 预扣费通知.
        path("wechat/v3/pay/transactions/h5", wechat_views.wechat_h5_prepay, name="wechat-h5-prepay"),
        path(
            "wechat/v3/pay/transactions/native",
            wechat_views.wechat_native_prepay,
            name="wechat-native-prepay",
        ),
        path(
            "wechat/v3/pay/transactions/out-trade-no/<str:out_trade_no>",
            wechat_v3_queries.wechat_query_by_out_trade_no,
            name="wechat-query",
        ),
        path(
            "wechat/v3/pay/transactions/out-trade-no/<str:out_trade_no>/close",
            wechat_v3_queries.wechat_close,
            name="wechat-close",
        ),
        path(
            "wechat/v3/pay/transactions/id/<str:transaction_id>",
            wechat_v3_queries.wechat_query_by_id,
            name="wechat-query-by-id",
        ),
        path("wechat/v3/refund/domestic/refunds", wechat_v3_queries.wechat_refund, name="wechat-refund"),
        path(
            "wechat/v3/refund/domestic/refunds/<str:out_refund_no>",
            wechat_v3_queries.wechat_refund_query,
            name="wechat-refund-query",
        ),
        path(
            "wechat/v3/papay/contracts/<str:contract_id>/notify",
            wechat_views.wechat_deduct_notice,
            name="wechat-deduct-notice",
        ),
        # WeChat Pay 委托代扣 API v2 (XML, APIv2 key).
        path("wechat/papay/h5entrustweb", wechat_papay.h5_entrust, name="wechat-h5-entrust"),
        path("wechat/papay/entrustweb", wechat_papay.official_account_entrust, name="wechat-entrust"),
        path("wechat/pay/pappayapply", wechat_papay.pap_pay_apply, name="wechat-pappayapply"),
        path("wechat/pay/paporderquery", wechat_papay.pap_order_query, name="wechat-paporderquery"),
        path("wechat/pay/orderquery", wechat_papay.pap_order_query, name="wechat-orderquery"),
        path("wechat/pay/closeorder", wechat_papay.close_order, name="wechat-closeorder"),
        path(
            "wechat/papay/querycontract", wechat_papay_contracts.query_contract, name="wechat-querycontract"
        ),
        path(
            "wechat/papay/deletecontract",
            wechat_papay_contracts.delete_contract,
            name="wechat-deletecontract",
        ),
        # The buyer's pages.
        path("wechat/h5/<slug:prepay_id>", wechat_views.wechat_h5_page, name="wechat-h5"),
        path("wechat/native/<slug:trade_no>", wechat_views.wechat_native_page, name="wechat-native"),
        path("agreements/", views.agreement_settings, name="agreement-settings"),
        path("agreements/<slug:external_no>/sign", views.agreement_sign, name="agreement-sign"),
        path("agreements/<slug:agreement_no>/unsign", views.agreement_unsign, name="agreement-unsign"),
        path("pay/<slug:order_no>", views.pay, name="pay"),
    ]
    if settings.KAMENG_SANDBOX
    else []
)
