"""WeChat Pay: APIv3 payments and refunds, and 委托代扣 周期扣费 (API v2 with the v3 预扣费通知)."""

from kameng.payments.channels.wechat.channel import WechatChannel

__all__ = ["WechatChannel"]
