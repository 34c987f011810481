"""Channel credentials as typed values, from settings: KAMENG_CHANNELS (real credentials, read from the environment
in config/settings/channels.py) or, with the sandbox on, the merchant keys the sandbox gateway issued into
KAMENG_SANDBOX_KEYS_FILE (kameng.sandbox.keys writes that file; this module only reads it).

A channel with no credentials is simply not offered.
"""

import json
from dataclasses import dataclass, field
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
    mchid: str
    appid: str
    merchant_serial: str
    merchant_private_key_pem: str
    platform_public_keys: dict[str, str] = field(default_factory=dict)  # Wechatpay-Serial → PEM
    apiv3_key: str = ""
    api_base: str = ""
    # 委托代扣 templates (模板 plan_id) by period length in months, configured in the merchant platform.
    papay_plan_ids: dict[int, str] = field(default_factory=lambda: {1: "10001", 3: "10003", 12: "10012"})


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
    return WechatConfig(**_sandbox_merchant("wechat"), api_base=_sandbox_base() + "/wechat")
