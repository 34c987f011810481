import pytest
from django.test import RequestFactory

from kameng.core.client import client_ip


def _ip(remote: str, forwarded: str | None = None) -> str | None:
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return client_ip(RequestFactory().get("/", **meta))


@pytest.fixture
def trusted(settings):
    settings.FORWARDED_ALLOW_IPS = ["127.0.0.1", "::1", "10.0.0.0/8"]


@pytest.mark.usefixtures("trusted")
@pytest.mark.parametrize(
    ("remote", "forwarded", "client"),
    [
        ("127.0.0.1", "198.51.100.23", "198.51.100.23"),
        ("::1", "2001:db8::7", "2001:db8::7"),
        ("127.0.0.1", "198.51.100.23:51234", "198.51.100.23"),
        ("127.0.0.1", "[2001:db8::7]:443", "2001:db8::7"),
        ("127.0.0.1", "::ffff:198.51.100.23", "198.51.100.23"),
        ("::ffff:127.0.0.1", "198.51.100.23", "198.51.100.23"),
        ("127.0.0.1", "192.0.2.1, 198.51.100.23, 10.1.2.3", "198.51.100.23"),
        ("127.0.0.1", "10.1.2.3, 10.4.5.6", "10.1.2.3"),
        ("127.0.0.1", "198.51.100.23, unknown", "127.0.0.1"),
        ("127.0.0.1", "198.51.100.23, garbage, 10.1.2.3", "10.1.2.3"),
        ("127.0.0.1", "", "127.0.0.1"),
        ("203.0.113.9", "198.51.100.23", "203.0.113.9"),
    ],
)
def test_the_client_is_the_right_most_address_no_trusted_proxy_vouches_for(remote, forwarded, client):
    assert _ip(remote, forwarded) == client


def test_any_peer_is_a_proxy_with_a_star(settings):
    settings.FORWARDED_ALLOW_IPS = ["*"]
    assert _ip("203.0.113.9", "198.51.100.23") == "198.51.100.23"


def test_with_a_star_only_the_entry_the_connecting_proxy_wrote_is_believed(settings):
    settings.FORWARDED_ALLOW_IPS = ["*"]
    assert (
        _ip("127.0.0.1", "10.1.7.1, 203.0.113.66") == "203.0.113.66"
    )  # the left entry is the client's own text


def test_nobody_is_trusted_by_default_in_the_embedded_set_up():
    assert _ip("127.0.0.1", "198.51.100.23") == "127.0.0.1"


def test_a_connection_without_an_address_has_no_client_address():
    assert _ip("", None) is None
    assert client_ip(None) is None
