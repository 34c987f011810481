from functools import lru_cache

from django.core.signals import setting_changed
from django.dispatch import receiver

from kameng.payments.channels.alipay import AlipayChannel
from kameng.payments.channels.base import PaymentChannel
from kameng.payments.channels.config import alipay_config, wechat_config
from kameng.payments.channels.wechat import WechatChannel

# The settings the channels are built from: changing one (override_settings, the `settings` fixture) builds them anew.
CHANNEL_SETTINGS = {
    "KAMENG_CHANNELS",
    "KAMENG_SANDBOX",
    "KAMENG_SANDBOX_KEYS_FILE",
    "KAMENG_PUBLIC_URL",
    "KAMENG_ALIPAY_PRODUCTS",
}


@lru_cache(maxsize=1)
def channels() -> dict[str, PaymentChannel]:
    """The offered channels, built once: a channel object holds parsed keys and an SDK client."""
    found: dict[str, PaymentChannel] = {}
    if (alipay := alipay_config()) is not None:
        found["alipay"] = AlipayChannel(alipay)
    if (wechat := wechat_config()) is not None:
        found["wechat"] = WechatChannel(wechat)
    return found


@receiver(setting_changed)
def _rebuild_channels(*, setting: str, **kwargs) -> None:
    if setting in CHANNEL_SETTINGS:
        channels.cache_clear()


def get_channel(name: str) -> PaymentChannel:
    try:
        return channels()[name]
    except KeyError:
        raise LookupError(f"channel {name!r} is not configured") from None
