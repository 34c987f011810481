"""Guessing passwords: every login path (the login page, the API token, the admin's login) goes through one
throttle; an attack on one address or one name never locks out another; parallel guesses never pass the limit."""

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.core import checks
from django.test import Client

from kameng.accounts.models import LoginFailure
from kameng.core.roles import Role
from tests.factories import PASSWORD, UserFactory, post_json

ATTACKER, VICTIM, PROXY = "203.0.113.66", "198.51.100.7", "127.0.0.1"


@pytest.fixture
def behind_the_proxy(settings):
    """The documented deployment: every request arrives from the proxy, which names the client."""
    settings.FORWARDED_ALLOW_IPS = [PROXY]


def _admin_login(client: Client, username: str, password: str, **extra):
    return client.post(
        "/admin/login/?next=/admin/", {"username": username, "password": password, "next": "/admin/"}, **extra
    )


def _page_login(username: str, password: str, *, via: str | None = None):
    extra = {"HTTP_X_FORWARDED_FOR": via} if via else {}
    return Client().post("/accounts/login/", {"username": username, "password": password}, **extra)


@pytest.mark.django_db
def test_the_admin_login_refuses_after_five_wrong_passwords_even_the_right_one():
    operator = UserFactory(role=Role.OPERATOR)
    for _ in range(5):
        assert _admin_login(Client(), operator.username, "wrong-guess").status_code == 200  # the form again
    client = Client()
    refused = _admin_login(client, operator.username, PASSWORD)
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert client.get("/admin/").status_code == 302  # not let in


@pytest.mark.django_db
def test_the_admin_login_records_each_failure_with_its_name_and_address():
    operator = UserFactory(role=Role.OPERATOR)
    for _ in range(3):
        _admin_login(Client(), operator.username, "wrong-guess")
    failures = LoginFailure.objects.filter(username=operator.username.lower())
    assert failures.count() == 3
    assert set(failures.values_list("ip", flat=True)) == {"127.0.0.1"}


@pytest.mark.django_db
def test_the_admin_refusal_is_in_the_readers_language():
    operator = UserFactory(role=Role.OPERATOR)
    for _ in range(5):
        _admin_login(Client(), operator.username, "wrong-guess")
    english = _admin_login(Client(), operator.username, PASSWORD, HTTP_ACCEPT_LANGUAGE="en")
    assert english.status_code == 429
    assert "Too many failed logins" in english.content.decode()


@pytest.mark.django_db
def test_the_web_page_the_api_and_the_admin_count_in_one_throttle():
    user = UserFactory(role=Role.SUPPORT)
    for _ in range(2):
        post_json(Client(), "/api/v1/auth/token", {"username": user.username, "password": "wrong"})
        _page_login(user.username, "wrong")
    _admin_login(Client(), user.username, "wrong")
    locked = post_json(Client(), "/api/v1/auth/token", {"username": user.username, "password": PASSWORD})
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "too_many_attempts"
    assert int(locked["Retry-After"]) > 0


@pytest.mark.django_db
def test_a_right_password_clears_the_names_failures_from_that_address():
    user = UserFactory()
    for _ in range(4):
        _page_login(user.username, "wrong")
    assert _page_login(user.username, PASSWORD).status_code == 302
    for _ in range(4):
        assert _page_login(user.username, "wrong").status_code == 401
    assert _page_login(user.username, PASSWORD).status_code == 302


@pytest.mark.django_db
@pytest.mark.usefixtures("behind_the_proxy")
def test_an_attacker_cannot_lock_the_victim_out_from_the_victims_own_address():
    victim = UserFactory()
    for _ in range(20):
        _page_login(victim.username, "guess", via=ATTACKER)
    assert _page_login(victim.username, "guess", via=ATTACKER).status_code == 429
    assert _page_login(victim.username, PASSWORD, via=VICTIM).status_code == 302


@pytest.mark.django_db
@pytest.mark.usefixtures("behind_the_proxy")
def test_twenty_failures_from_one_address_lock_that_address_and_no_other():
    member = UserFactory()
    for n in range(20):
        _page_login(f"someone-{n}", "guess", via=ATTACKER)
    assert _page_login(member.username, PASSWORD, via=ATTACKER).status_code == 429
    assert _page_login(member.username, PASSWORD, via=VICTIM).status_code == 302


@pytest.mark.django_db
def test_a_backend_that_checks_passwords_outside_the_throttle_fails_the_system_check(settings):
    settings.AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
    errors = checks.run_checks(tags=[checks.Tags.security])
    assert "accounts.E001" in {error.id for error in errors}


def _live_admin_login(base: str, username: str, password: str, **headers) -> requests.Response:
    """The admin's login as a browser does it: fetch the form (CSRF cookie and token), then post it."""
    session = requests.Session()
    page = session.get(f"{base}/admin/login/", headers=headers, timeout=30)
    token = page.text.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
    return session.post(
        f"{base}/admin/login/?next=/admin/",
        data={"csrfmiddlewaretoken": token, "username": username, "password": password, "next": "/admin/"},
        headers={"Referer": f"{base}/admin/login/", **headers},
        allow_redirects=False,
        timeout=30,
    )


@pytest.mark.django_db(transaction=True)
def test_the_admin_login_on_a_live_server_refuses_after_the_limit_and_records_the_failures(live_server):
    operator = UserFactory(role=Role.OPERATOR)
    answers = [_live_admin_login(live_server.url, operator.username, "wrong").status_code for _ in range(5)]
    assert answers == [200] * 5
    assert _live_admin_login(live_server.url, operator.username, PASSWORD).status_code == 429
    assert LoginFailure.objects.filter(username=operator.username.lower()).count() == 5


@pytest.mark.django_db(transaction=True)
def test_behind_the_proxy_a_live_server_locks_the_attackers_address_and_not_the_victims(
    live_server, settings
):
    settings.FORWARDED_ALLOW_IPS = [PROXY]
    operator = UserFactory(role=Role.OPERATOR)
    for _ in range(5):
        _live_admin_login(live_server.url, operator.username, "wrong", **{"X-Forwarded-For": ATTACKER})
    refused = _live_admin_login(live_server.url, operator.username, PASSWORD, **{"X-Forwarded-For": ATTACKER})
    assert refused.status_code == 429
    let_in = _live_admin_login(live_server.url, operator.username, PASSWORD, **{"X-Forwarded-For": VICTIM})
    assert let_in.status_code == 302 and let_in.headers["Location"] == "/admin/"
    assert set(LoginFailure.objects.values_list("ip", flat=True)) == {ATTACKER}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_forty_parallel_guesses_for_one_name_check_exactly_five_passwords(live_server):
    user = UserFactory()
    url = f"{live_server.url}/api/v1/auth/token"

    def guess(n: int) -> int:
        return requests.post(
            url, json={"username": user.username, "password": f"guess-{n}"}, timeout=60
        ).status_code

    with ThreadPoolExecutor(max_workers=40) as pool:
        answers = Counter(pool.map(guess, range(40)))
    assert answers == {401: 5, 429: 35}
    assert LoginFailure.objects.filter(username=user.username.lower()).count() == 5
