"""The conformance server answers as `make run`'s does: the shop and, on the same origin, the sandbox gateway."""

import urllib.error
import urllib.request

import pytest

pytestmark = [pytest.mark.postgres]


def test_the_gunicorn_server_serves_the_shop_and_the_sandbox(gunicorn_server):
    with urllib.request.urlopen(f"{gunicorn_server}/healthz", timeout=5) as reply:  # noqa: S310 (loopback)
        assert reply.status == 200
    with urllib.request.urlopen(f"{gunicorn_server}/", timeout=5) as reply:  # noqa: S310
        assert "卡盟" in reply.read().decode()
    with pytest.raises(
        urllib.error.HTTPError
    ) as refused:  # the sandbox's own page for a code_url it never issued
        urllib.request.urlopen(f"{gunicorn_server}/sandbox/wechat/native/0", timeout=5)  # noqa: S310
    assert refused.value.code == 404 and "unknown code_url" in refused.value.read().decode()
