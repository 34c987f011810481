"""Channel credentials as typed values, from settings: KAMENG_CHANNELS (real credentials, read from the environment
in config/settings/channels.py) or, with the sandbox on, the merchant keys the sandbox gateway issued into
KAMENG_SANDBOX_KEYS_FILE (kameng.sandbox.keys writes that file; this module only reads it).

A channel with no credentials is simply not offered.
"""

import json
from dataclasses import dataclass, field, fields
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class AlipayConfig:
    app_id: str
    app_private_key_pem: str
    alipay_public_key_pem: str
    gateway_url: str
    # The products the merchant's account has signed (KAMENG_ALIPAY_PRODUCTS): "wap" always, "precreate" (当面付)
    # only when the operator says so, since Alipay refuses a product the account lacks.
    products: frozenset[str] = frozenset({"wap"})


@dataclass(frozen=True)
class WechatConfig:
    """A WeChat Pay direct merchant (直连商户) with 委托代扣 周期扣费 (docs/channels.md#wechat-pay).

    Two key systems side by side, as WeChat's guide lists them (开发参数与业务规则 s.一): the APIv2 key signs every
    papay call and notification (v2 XML); the merchant certificate's private key signs the v3 calls (H5 and Native
    pay, queries, refunds, the 预扣费通知), whose answers and callbacks verify with the platform keys.
    """

    mchid: str
    appid: str
    merchant_serial: str
    merchant_private_key_pem: str
    # Wechatpay-Serial → PEM. Several at once: WeChat rotates its platform certificates (and a 公钥 may be
    # replaced); during a rotation both the old and the new serial sign, and an unknown serial is refused.
    platform_public_keys: dict[str, str] = field(default_factory=dict)
    apiv3_key: str = ""
    apiv2_key: str = ""  # APIv2 密钥: papay (v2) signatures, MD5 / HMAC-SHA256
    api_base: str = ""
    # 委托代扣 templates (模板 plan_id, an integer) by period length in months, made in the merchant platform
    # (交易中心 → 高级业务 → 委托代扣模版管理); the template also carries the termination notify URL.
    papay_plan_ids: dict[int, int] = field(default_factory=lambda: {1: 10001, 3: 10003, 12: 10012})
    # 终端IP of pappayapply (spbill_create_ip): the address the shop calls WeChat from.
    server_ip: str = "127.0.0.1"
    # Whether the account has Native pay (扫码, a QR code for desktop buyers): the operator says so.
    native_enabled: bool = False

    def __post_init__(self) -> None:
        # Settings and the sandbox's keys file name periods as JSON keys (text); WeChat's plan_id is an integer.
        plans = {
            int(months): int(plan_id) for months, plan_id in dict(self.papay_plan_ids).items() if plan_id
        }
        object.__setattr__(self, "papay_plan_ids", plans)


_WECHAT_FIELDS = {f.name for f in fields(WechatConfig)}


def _sandbox_merchant(channel: str) -> dict:
    path = Path(settings.KAMENG_SANDBOX_KEYS_FILE)
    try:
        return json.loads(path.read_text())["merchant"][channel]
    except (FileNotFoundError, KeyError):
        raise ImproperlyConfigured(
            f"the sandbox's merchant keys are not in {path}: the sandbox app issues them when Django starts "
            "with KAMENG_SANDBOX on"
        ) from None


def _sandbox_base() -> str:
    # The sandbox answers on this shop's own public URL, which tests and benchmarks point at their server.
    return settings.KAMENG_PUBLIC_URL.rstrip("/") + "/sandbox"


def alipay_config() -> AlipayConfig | None:
    products = frozenset(settings.KAMENG_ALIPAY_PRODUCTS) | {"wap"}
    if "alipay" in settings.KAMENG_CHANNELS:
        return AlipayConfig(**{"products": products, **settings.KAMENG_CHANNELS["alipay"]})
    if not settings.KAMENG_SANDBOX:
        return None
    return AlipayConfig(
        **_sandbox_merchant("alipay"), gateway_url=_sandbox_base() + "/alipay/gateway.do", products=products
    )


def wechat_config() -> WechatConfig | None:
    if "wechat" in settings.KAMENG_CHANNELS:
        return WechatConfig(**settings.KAMENG_CHANNELS["wechat"])
    if not settings.KAMENG_SANDBOX:
        return None
    # Only the fields this shop knows: the sandbox may write more of its merchant's side than we read.
    merchant = {k: v for k, v in _sandbox_merchant("wechat").items() if k in _WECHAT_FIELDS}
    return WechatConfig(**{**merchant, "api_base": _sandbox_base() + "/wechat", "native_enabled": True})
