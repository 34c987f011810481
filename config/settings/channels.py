"""Payment channels: Alipay and WeChat Pay credentials, the sandbox gateway that plays both, and how the shop and
the channels reach each other.

A channel is offered when it has credentials here, or, with the sandbox on, on the sandbox's merchant keys: the
sandbox app generates them into KAMENG_SANDBOX_KEYS_FILE when Django starts (kameng.sandbox.keys) and
kameng.payments.channels.config reads them from there, so neither app imports the other.
"""

import json
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_float, env_int, env_list, env_secret, env_str
from config.settings.base import INSTANCE_DIR, PRODUCTION

KAMENG_PUBLIC_URL = env_str("KAMENG_PUBLIC_URL", f"http://127.0.0.1:{env_str('PORT', '8000')}")
# Calls between the shop and the sandbox gateway go through the WSGI handler in-process instead of a socket; tests
# use this because no server listens while they run.
KAMENG_HTTP_INPROCESS = env_bool("KAMENG_HTTP_INPROCESS", False)
# Seconds the shop waits for a channel (and the sandbox for the shop) before the outcome counts as unknown.
KAMENG_HTTP_TIMEOUT = env_float("KAMENG_HTTP_TIMEOUT", 10.0)

# The sandbox gateway plays Alipay and WeChat Pay; it must never be reachable in production unless asked for.
KAMENG_SANDBOX = env_bool("KAMENG_SANDBOX", not PRODUCTION)
KAMENG_SANDBOX_KEYS_FILE = INSTANCE_DIR / "sandbox" / "keys.json"
# Fault injection at the sandbox gateway (see kameng.sandbox.faults); all off unless asked for.
KAMENG_SANDBOX_FAULT_RATE = env_float("KAMENG_SANDBOX_FAULT_RATE", 0.0)
KAMENG_SANDBOX_FAULT_DELAY = env_float("KAMENG_SANDBOX_FAULT_DELAY", 0.0)
KAMENG_SANDBOX_LATENCY_MS = env_int("KAMENG_SANDBOX_LATENCY_MS", 0)
# Off (0): the sandbox sends no notification at all, so payments, renewals and refunds must converge by the shop's
# active queries alone (kameng.payments.queries).
KAMENG_SANDBOX_NOTIFY = env_bool("KAMENG_SANDBOX_NOTIFY", True)

# The Alipay products the operator's account has signed (docs/channels.md#alipay): "wap" (手机网站支付, always) and
# "precreate" (当面付, alipay.trade.precreate: the desktop QR code). Only what the account has may be offered.
KAMENG_ALIPAY_PRODUCTS = tuple(env_list("KAMENG_ALIPAY_PRODUCTS", "wap"))
# Where the sandbox's WeChat 委托代扣 template sends its termination notifications (set on the 模板 at WeChat, not per
# request); empty: the shop's own papay notification URL on KAMENG_PUBLIC_URL.
KAMENG_SANDBOX_WECHAT_TERMINATION_URL = env_str("KAMENG_SANDBOX_WECHAT_TERMINATION_URL", "")


def _alipay() -> dict | None:
    if not env_str("KAMENG_ALIPAY_APP_ID"):
        return None
    return {
        "app_id": env_str("KAMENG_ALIPAY_APP_ID"),
        "app_private_key_pem": env_secret("KAMENG_ALIPAY_APP_PRIVATE_KEY"),
        "alipay_public_key_pem": env_secret("KAMENG_ALIPAY_PUBLIC_KEY"),
        "gateway_url": env_str("KAMENG_ALIPAY_GATEWAY", "https://openapi.alipay.com/gateway.do"),
    }


def _wechat_platform_keys() -> dict[str, str]:
    """Wechatpay-Serial → PEM, from any of three places (all merged, so a rotation can add one beside the old):

    * KAMENG_WECHAT_PLATFORM_KEYS: a JSON object {"PUB_KEY_ID_…": "-----BEGIN PUBLIC KEY-----…", …}
      (or KAMENG_WECHAT_PLATFORM_KEYS_FILE naming a file that holds it);
    * KAMENG_WECHAT_PLATFORM_KEYS_DIR: a folder of `<serial>.pem` files, one per key;
    * the single-key pair of earlier releases, KAMENG_WECHAT_PLATFORM_SERIAL + KAMENG_WECHAT_PLATFORM_PUBLIC_KEY.
    """
    keys: dict[str, str] = {}
    if raw := env_secret("KAMENG_WECHAT_PLATFORM_KEYS"):
        try:
            keys.update({str(serial): str(pem) for serial, pem in json.loads(raw).items()})
        except (ValueError, AttributeError):
            raise ImproperlyConfigured(
                "KAMENG_WECHAT_PLATFORM_KEYS must be a JSON object of Wechatpay-Serial → PEM public key"
            ) from None
    if folder := env_str("KAMENG_WECHAT_PLATFORM_KEYS_DIR"):
        for pem_file in sorted(Path(folder).glob("*.pem")):
            keys[pem_file.stem] = pem_file.read_text()
    if serial := env_str("KAMENG_WECHAT_PLATFORM_SERIAL"):
        keys[serial] = env_secret("KAMENG_WECHAT_PLATFORM_PUBLIC_KEY")
    return keys


def _wechat_plan_ids() -> dict[int, int]:
    """委托代扣 templates by period: KAMENG_WECHAT_PAPAY_PLAN_1M / _3M / _12M, WeChat's integer plan_id."""
    plans = {}
    for months in (1, 3, 12):
        name = f"KAMENG_WECHAT_PAPAY_PLAN_{months}M"
        if value := env_str(name):
            if not value.isdigit():
                raise ImproperlyConfigured(f"{name} must be the template's integer plan_id, not {value!r}")
            plans[months] = int(value)
    return plans


def _wechat() -> dict | None:
    if not env_str("KAMENG_WECHAT_MCHID"):
        return None
    return {
        "mchid": env_str("KAMENG_WECHAT_MCHID"),
        "appid": env_str("KAMENG_WECHAT_APPID"),
        "merchant_serial": env_str("KAMENG_WECHAT_MERCHANT_SERIAL"),
        "merchant_private_key_pem": env_secret("KAMENG_WECHAT_MERCHANT_PRIVATE_KEY"),
        "platform_public_keys": _wechat_platform_keys(),
        "apiv3_key": env_secret("KAMENG_WECHAT_APIV3_KEY"),
        "apiv2_key": env_secret("KAMENG_WECHAT_APIV2_KEY"),
        "api_base": env_str("KAMENG_WECHAT_API_BASE", "https://api.mch.weixin.qq.com"),
        "papay_plan_ids": _wechat_plan_ids(),
        "server_ip": env_str("KAMENG_WECHAT_SERVER_IP", "127.0.0.1"),
        # Native (扫码) pay for desktop buyers, only when the account has the product.
        "native_enabled": env_bool("KAMENG_WECHAT_NATIVE", False),
    }


# Real credentials by channel, with the fields of kameng.payments.channels.config's AlipayConfig / WechatConfig.
KAMENG_CHANNELS = {name: values for name, values in (("alipay", _alipay()), ("wechat", _wechat())) if values}

# The sandbox pays any order with pretend money and moves the clock every process reads. Beside real channels (real
# buyers, real money) that is never wanted: a shop taking real payments refuses to start with it on.
if PRODUCTION and KAMENG_SANDBOX and KAMENG_CHANNELS:
    raise ImproperlyConfigured(
        "KAMENG_SANDBOX must be off in production when real channel credentials are set "
        f"({', '.join(sorted(KAMENG_CHANNELS))}): the sandbox pays any order and moves the shop's clock"
    )
