"""The client's address behind the proxy: X-Forwarded-For is believed only from a trusted proxy
(FORWARDED_ALLOW_IPS), read from its right end, so a client can neither name itself another address nor slip one
in front of the proxy's. Every record of the address uses the same answer."""

import pytest
from django.test import Client

from kameng.accounts.models import LoginFailure
from kameng.core.models import AuditLog
from kameng.membership.models import ConsentRecord
from kameng.orders.models import Order
from kameng.payments.channels.wechat.v3 import V3Client
from tests.factories import PASSWORD, PlanFactory, UserFactory, stocked_product

pytestmark = pytest.mark.django_db

PROXY, CLIENT, FORGED = "127.0.0.1", "198.51.100.23", "192.0.2.1"


@pytest.fixture
def behind_the_proxy(settings):
    settings.FORWARDED_ALLOW_IPS = [PROXY]


def _failed_login_from(**meta) -> str | None:
    Client(**meta).post("/accounts/login/", {"username": "nobody", "password": "wrong"})
    return LoginFailure.objects.get().ip


@pytest.mark.usefixtures("behind_the_proxy")
def test_a_trusted_proxys_forwarded_address_is_the_clients():
    assert _failed_login_from(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=CLIENT) == CLIENT


@pytest.mark.usefixtures("behind_the_proxy")
def test_a_forwarded_header_from_a_client_that_is_not_a_trusted_proxy_is_ignored():
    assert _failed_login_from(REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR=FORGED) == "203.0.113.9"


@pytest.mark.usefixtures("behind_the_proxy")
def test_addresses_a_client_wrote_in_front_of_the_proxys_entry_are_ignored():
    forwarded = f"{FORGED}, 10.9.9.9, {CLIENT}"  # the client sent the first two; the proxy appended the last
    assert _failed_login_from(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forwarded) == CLIENT


def test_a_chain_of_trusted_proxies_is_walked_back_to_the_first_address_none_of_them_is(settings):
    settings.FORWARDED_ALLOW_IPS = [PROXY, "10.0.0.0/8"]
    forwarded = f"{FORGED}, {CLIENT}, 10.0.0.2"
    assert _failed_login_from(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forwarded) == CLIENT


def test_without_a_trusted_proxy_the_embedded_set_up_believes_no_forwarded_header():
    assert _failed_login_from(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=FORGED) == "127.0.0.1"


@pytest.mark.usefixtures("behind_the_proxy")
def test_the_consent_to_auto_renew_records_the_clients_address():
    plan = PlanFactory()
    client = Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=CLIENT)
    client.force_login(UserFactory())
    client.post("/member/subscribe/", {"plan_code": plan.code, "channel": "alipay", "auto_renew": "on"})
    assert ConsentRecord.objects.get().ip == CLIENT


@pytest.mark.usefixtures("behind_the_proxy")
def test_audit_rows_written_for_a_request_record_the_clients_address():
    Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=CLIENT).post(
        "/accounts/register/", {"username": "gina", "email": "g@example.com", "password": "Correct-Horse-42"}
    )
    assert AuditLog.objects.get(action="user.registered").data["client_ip"] == CLIENT


@pytest.mark.usefixtures("behind_the_proxy")
def test_wechat_pay_is_told_the_clients_address(monkeypatch):
    sent = []
    real_call = V3Client.call  # the adapter's APIv3 calls (H5 prepay among them)

    def spy(self, method, path, payload=None):
        sent.append(payload)
        return real_call(self, method, path, payload)

    monkeypatch.setattr(V3Client, "call", spy)
    buyer, product = UserFactory(), stocked_product()
    client = Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=CLIENT)
    client.force_login(buyer)
    client.post("/orders/checkout/", {"sku": product.sku, "quantity": 1, "channel": "wechat"})
    assert client.get(f"/orders/{Order.objects.get().order_no}/pay/").status_code == 302
    assert [p["scene_info"]["payer_client_ip"] for p in sent if p and "scene_info" in p] == [CLIENT]


@pytest.mark.usefixtures("behind_the_proxy")
def test_metrics_forwarded_by_the_proxy_need_the_token_even_for_a_loopback_client():
    forwarded = Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="127.0.0.1").get("/metrics")
    assert forwarded.status_code == 404


@pytest.mark.django_db
def test_with_forwarded_allow_star_rotating_a_forged_left_entry_gains_no_guesses(settings):
    """`*` trusts the connecting proxy to name its client, not what the client wrote further left: an attacker who
    sends a new left-most entry with every guess is still counted at the address the proxy saw."""
    settings.FORWARDED_ALLOW_IPS = ["*"]
    victim = UserFactory()
    for n in range(5):
        Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=f"10.1.{n}.1, 203.0.113.66").post(
            "/accounts/login/", {"username": victim.username, "password": "wrong"}
        )
    last = Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="10.2.0.1, 203.0.113.66").post(
        "/accounts/login/", {"username": victim.username, "password": PASSWORD}
    )
    assert last.status_code == 429
