"""The biz_content fields of each Alipay API the sandbox plays, as alipay-sdk-python's domain models list them (names,
JSON kinds, required, maximum lengths): the tables alipay_rules checks requests against. Sources are named in
alipay_rules' docstring and at each model below."""

from dataclasses import dataclass, field

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
