"""Channel credentials from the environment; in the sandbox, the sandbox gateway's generated merchant keys.

A channel with no credentials is simply not offered.
"""

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from django.conf import settings


@dataclass(frozen=True)
class AlipayConfig:
    app_id: str
    app_private_key_pem: str
    alipay_public_key_pem: str
    gateway_url: str


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


def _secret(name: str) -> str:
    """VAR, or the contents of the file named by VAR_FILE (for PEM keys mounted as files)."""
    value = os.environ.get(name, "")
    file_name = os.environ.get(f"{name}_FILE", "")
    if not value and file_name:
        value = Path(file_name).read_text()
    return value


def _sandbox_base() -> str:
    return settings.KAMENG_PUBLIC_URL.rstrip("/") + "/sandbox"


@lru_cache(maxsize=1)
def alipay_config() -> AlipayConfig | None:
    if os.environ.get("KAMENG_ALIPAY_APP_ID"):
        return AlipayConfig(
            app_id=os.environ["KAMENG_ALIPAY_APP_ID"],
            app_private_key_pem=_secret("KAMENG_ALIPAY_APP_PRIVATE_KEY"),
            alipay_public_key_pem=_secret("KAMENG_ALIPAY_PUBLIC_KEY"),
            gateway_url=os.environ.get("KAMENG_ALIPAY_GATEWAY", "https://openapi.alipay.com/gateway.do"),
        )
    if not settings.KAMENG_SANDBOX:
        return None
    from kameng.sandbox import keys

    k = keys.sandbox_keys()
    return AlipayConfig(
        app_id=keys.ALIPAY_APP_ID,
        app_private_key_pem=k["alipay_app_private"],
        alipay_public_key_pem=k["alipay_public"],
        gateway_url=_sandbox_base() + "/alipay/gateway.do",
    )


@lru_cache(maxsize=1)
def wechat_config() -> WechatConfig | None:
    if os.environ.get("KAMENG_WECHAT_MCHID"):
        return WechatConfig(
            mchid=os.environ["KAMENG_WECHAT_MCHID"],
            appid=os.environ.get("KAMENG_WECHAT_APPID", ""),
            merchant_serial=os.environ.get("KAMENG_WECHAT_MERCHANT_SERIAL", ""),
            merchant_private_key_pem=_secret("KAMENG_WECHAT_MERCHANT_PRIVATE_KEY"),
            platform_public_keys={
                os.environ.get("KAMENG_WECHAT_PLATFORM_SERIAL", ""): _secret(
                    "KAMENG_WECHAT_PLATFORM_PUBLIC_KEY"
                )
            },
            apiv3_key=_secret("KAMENG_WECHAT_APIV3_KEY"),
            api_base=os.environ.get("KAMENG_WECHAT_API_BASE", "https://api.mch.weixin.qq.com"),
            papay_plan_ids={
                months: os.environ.get(f"KAMENG_WECHAT_PAPAY_PLAN_{months}M", "") for months in (1, 3, 12)
            },
        )
    if not settings.KAMENG_SANDBOX:
        return None
    from kameng.sandbox import keys

    k = keys.sandbox_keys()
    return WechatConfig(
        mchid=keys.WECHAT_MCHID,
        appid=keys.WECHAT_APPID,
        merchant_serial=keys.WECHAT_MERCHANT_SERIAL,
        merchant_private_key_pem=k["wechat_merchant_private"],
        platform_public_keys={keys.WECHAT_PLATFORM_SERIAL: k["wechat_platform_public"]},
        apiv3_key=k["wechat_apiv3_key"],
        api_base=_sandbox_base() + "/wechat",
    )
