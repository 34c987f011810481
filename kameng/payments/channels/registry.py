from functools import lru_cache

from kameng.payments.channels.base import PaymentChannel
from kameng.payments.channels.config import alipay_config, wechat_config


@lru_cache(maxsize=1)
def channels() -> dict[str, PaymentChannel]:
    from kameng.payments.channels.alipay import AlipayChannel
    from kameng.payments.channels.wechat import WechatChannel

    found: dict[str, PaymentChannel] = {}
    if (alipay := alipay_config()) is not None:
        found["alipay"] = AlipayChannel(alipay)
    if (wechat := wechat_config()) is not None:
        found["wechat"] = WechatChannel(wechat)
    return found


def get_channel(name: str) -> PaymentChannel:
    try:
        return channels()[name]
    except KeyError:
        raise LookupError(f"channel {name!r} is not configured") from None
