"""Payment channels: Alipay and WeChat Pay credentials, the sandbox gateway that plays both, and how the shop and
the channels reach each other.

A channel is offered when it has credentials here, or, with the sandbox on, on the sandbox's merchant keys: the
sandbox app generates them into KAMENG_SANDBOX_KEYS_FILE when Django starts (kameng.sandbox.keys) and
kameng.payments.channels.config reads them from there, so neither app imports the other.
"""

from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_float, env_int, env_secret, env_str
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


def _wechat() -> dict | None:
    if not env_str("KAMENG_WECHAT_MCHID"):
        return None
    return {
        "mchid": env_str("KAMENG_WECHAT_MCHID"),
        "appid": env_str("KAMENG_WECHAT_APPID"),
        "merchant_serial": env_str("KAMENG_WECHAT_MERCHANT_SERIAL"),
        "merchant_private_key_pem": env_secret("KAMENG_WECHAT_MERCHANT_PRIVATE_KEY"),
        # Wechatpay-Serial → the platform's public key (公钥 mode: one key, named by its serial).
        "platform_public_keys": {
            env_str("KAMENG_WECHAT_PLATFORM_SERIAL"): env_secret("KAMENG_WECHAT_PLATFORM_PUBLIC_KEY")
        },
        "apiv3_key": env_secret("KAMENG_WECHAT_APIV3_KEY"),
        "api_base": env_str("KAMENG_WECHAT_API_BASE", "https://api.mch.weixin.qq.com"),
        # 委托代扣 templates (模板 plan_id) by period length in months, configured in the merchant platform.
        "papay_plan_ids": {months: env_str(f"KAMENG_WECHAT_PAPAY_PLAN_{months}M") for months in (1, 3, 12)},
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
