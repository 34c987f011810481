"""The conformance server answers as `make run`'s does."""

import urllib.request

import pytest

pytestmark = [pytest.mark.postgres]


def test_the_gunicorn_server_serves_the_shop_and_the_sandbox(gunicorn_server):
    with urllib.request.urlopen(f"{gunicorn_server}/healthz", timeout=5) as reply:  # noqa: S310 (loopback)
        assert reply.status == 200
    with urllib.request.urlopen(f"{gunicorn_server}/", timeout=5) as reply:  # noqa: S310
        assert "卡盟" in reply.read().decode() or reply.status == 200
