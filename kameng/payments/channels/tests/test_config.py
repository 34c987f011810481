"""Channels are built from settings alone: overriding a setting is enough to change them, no cache to clear."""

import pytest
from django.test import override_settings

from kameng.payments.channels.registry import get_channel

ALIPAY = {
    "app_id": "2021009",
    "app_private_key_pem": "-----APP PRIVATE KEY-----",
    "alipay_public_key_pem": "-----ALIPAY PUBLIC KEY-----",
    "gateway_url": "https://openapi.alipay.com/gateway.do",
}


def test_real_credentials_take_the_place_of_the_sandbox():
    assert get_channel("alipay").config.app_id != ALIPAY["app_id"]  # built once on the sandbox's keys
    with override_settings(KAMENG_CHANNELS={"alipay": ALIPAY}):
        assert get_channel("alipay").config.gateway_url == "https://openapi.alipay.com/gateway.do"
        assert get_channel("alipay").config.app_id == "2021009"
        assert get_channel("wechat").config.api_base.endswith("/sandbox/wechat")  # still the sandbox's
    assert get_channel("alipay").config.app_id != ALIPAY["app_id"]


def test_the_sandbox_channels_follow_the_shops_public_url(settings):
    settings.KAMENG_PUBLIC_URL = "http://127.0.0.1:8123"
    assert get_channel("alipay").config.gateway_url == "http://127.0.0.1:8123/sandbox/alipay/gateway.do"
    assert get_channel("wechat").config.api_base == "http://127.0.0.1:8123/sandbox/wechat"


def test_without_credentials_or_sandbox_no_channel_is_offered(settings):
    settings.KAMENG_SANDBOX = False
    with pytest.raises(LookupError, match="not configured"):
        get_channel("alipay")
