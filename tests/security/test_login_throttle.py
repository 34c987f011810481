"""Guessing passwords: every login path (the login page, the API token, the admin's login) and every other check of
a password (the account page's and the admin's password change) goes through one throttle; an attack on one address
or one name never locks out another; parallel guesses never pass the limit."""

import ast
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from django.contrib.auth.forms import PasswordChangeForm
from django.core import checks
from django.test import Client

import kameng
from kameng.accounts import throttle
from kameng.accounts.forms import ThrottledPasswordChangeForm
from kameng.accounts.models import LoginFailure
from kameng.core import sweeps
from kameng.core.roles import Role
from tests.factories import PASSWORD, UserFactory, advance_days, post_json

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
def test_look_alike_spellings_of_a_name_share_its_count():
    UserFactory(username="operator", role=Role.OPERATOR)
    for spelling in (
        "operator",
        "OPERATOR",
        "ｏｐｅｒａｔｏｒ",
        "\u043eperator",
        "Operator",
    ):  # full-width, Cyrillic о
        _page_login(spelling, "wrong-guess")
    locked = post_json(Client(), "/api/v1/auth/token", {"username": "operator", "password": PASSWORD})
    assert locked.status_code == 429


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


# The password change: whoever holds a stolen session must not be able to guess the current password without limit.
# Django's PasswordChangeForm checked it with user.check_password(), outside the throttle (outside review of #13).

NEW_PASSWORD = "A-new-Horse-43"
ACCOUNT_PAGE_CHANGE, ADMIN_CHANGE = "/accounts/password/", "/admin/password_change/"


def _change_password(client: Client, path: str, old_password: str, **extra):
    body = {"old_password": old_password, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    return client.post(path, body, **extra)


def _holding_a_session(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_the_account_page_refuses_a_sixth_old_password_even_the_right_one():
    user = UserFactory()
    thief = _holding_a_session(user)
    for _ in range(5):
        assert _change_password(thief, ACCOUNT_PAGE_CHANGE, "guess").status_code == 400
    refused = _change_password(thief, ACCOUNT_PAGE_CHANGE, PASSWORD)
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert "登录失败次数过多" in refused.content.decode()
    user.refresh_from_db()
    assert user.check_password(PASSWORD)  # unchanged


@pytest.mark.django_db
def test_the_account_pages_refusal_is_in_the_readers_language():
    user = UserFactory()
    thief = _holding_a_session(user)
    for _ in range(5):
        _change_password(thief, ACCOUNT_PAGE_CHANGE, "guess")
    english = _change_password(thief, ACCOUNT_PAGE_CHANGE, PASSWORD, HTTP_ACCEPT_LANGUAGE="en")
    assert english.status_code == 429
    assert "Too many failed logins" in english.content.decode()


@pytest.mark.django_db
def test_the_admins_password_change_refuses_a_sixth_old_password_even_the_right_one():
    operator = UserFactory(role=Role.OPERATOR)
    thief = _holding_a_session(operator)
    for _ in range(5):
        assert _change_password(thief, ADMIN_CHANGE, "guess").status_code == 200  # the form again
    refused = _change_password(thief, ADMIN_CHANGE, PASSWORD, HTTP_ACCEPT_LANGUAGE="en")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert "Too many failed logins" in refused.content.decode()
    operator.refresh_from_db()
    assert operator.check_password(PASSWORD)


@pytest.mark.django_db
def test_the_admins_password_change_still_changes_the_password():
    operator = UserFactory(role=Role.OPERATOR)
    answer = _change_password(_holding_a_session(operator), ADMIN_CHANGE, PASSWORD)
    assert answer.status_code == 302 and answer["Location"] == "/admin/password_change/done/"
    operator.refresh_from_db()
    assert operator.check_password(NEW_PASSWORD)


@pytest.mark.django_db
def test_wrong_old_passwords_count_with_failed_logins_in_the_one_throttle():
    user = UserFactory()
    thief = _holding_a_session(user)
    for _ in range(3):
        _change_password(thief, ACCOUNT_PAGE_CHANGE, "guess")
    for _ in range(2):
        _page_login(user.username, "guess")
    assert _page_login(user.username, PASSWORD).status_code == 429
    assert LoginFailure.objects.filter(username=user.username.lower()).count() == 5


# Guards: a path added later cannot check a password outside the throttle without a test going red.

KAMENG = Path(kameng.__file__).parent
# Where a password may be checked directly: the authentication backend, behind the throttle (today it leaves even
# that to Django's ModelBackend). Anything else asks authenticate() (accounts.services.check_credentials).
MAY_CHECK_PASSWORDS = {"accounts/backends.py"}
# Django's forms that check the current password with user.check_password(): only accounts/forms.py may import one,
# to put its throttled clean_old_password on it.
UNTHROTTLED_DJANGO_FORMS = {"PasswordChangeForm"}
MAY_IMPORT_THEM = {"accounts/forms.py"}


def _production_sources() -> dict[str, ast.Module]:
    """kameng's modules that serve requests or run commands: not its tests (they read a stored hash to assert a
    change) nor its migrations."""
    found = {}
    for path in sorted(KAMENG.rglob("*.py")):
        relative = path.relative_to(KAMENG).as_posix()
        if "/tests/" in f"/{relative}" or "/migrations/" in relative:
            continue
        found[relative] = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return found


def _checks_a_password(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
    return name in {"check_password", "acheck_password"}


def test_no_module_but_the_backend_checks_a_password_itself():
    """Calls only (a comment or docstring may name check_password): `user.check_password(…)`,
    `hashers.check_password(…)`, `check_password(…)`."""
    offenders = {
        f"{relative}:{node.lineno}"
        for relative, tree in _production_sources().items()
        if relative not in MAY_CHECK_PASSWORDS
        for node in ast.walk(tree)
        if _checks_a_password(node)
    }
    assert offenders == set(), "check passwords through authenticate() (accounts.services.check_credentials)"


def test_no_module_but_accounts_forms_imports_a_django_form_that_checks_passwords_itself():
    offenders = {
        f"{relative}:{node.lineno}"
        for relative, tree in _production_sources().items()
        if relative not in MAY_IMPORT_THEM
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        and (node.module or "").startswith("django.")
        and UNTHROTTLED_DJANGO_FORMS & {alias.name for alias in node.names}
    }
    assert offenders == set(), "use kameng.accounts.forms.ThrottledPasswordChangeForm"


def test_every_password_change_form_of_ours_checks_the_old_password_through_the_throttle():
    def subclasses(cls: type) -> set[type]:
        return {cls, *(grand for sub in cls.__subclasses__() for grand in subclasses(sub))}

    ours = {cls for cls in subclasses(PasswordChangeForm) if cls.__module__.startswith("kameng.")}
    assert ours  # the account page's and the admin's at least
    unthrottled = {
        cls.__qualname__
        for cls in ours
        if cls.clean_old_password is not ThrottledPasswordChangeForm.clean_old_password
    }
    assert unthrottled == set()


# Retention: every wrong password, from anyone, writes a LoginFailure; a sweep keeps the table to the last 30 days.


def _failures_by_name() -> Counter:
    return Counter(LoginFailure.objects.values_list("username", flat=True))


@pytest.mark.django_db
def test_failed_logins_are_forgotten_after_thirty_days_and_newer_ones_kept():
    for _ in range(3):
        _page_login("old-attempt", "guess")
    advance_days(20)
    _page_login("new-attempt", "guess")
    advance_days(10.5)
    assert sweeps.run_due_sweeps()["forget_login_failures"] == 3
    assert _failures_by_name() == {"new-attempt": 1}


@pytest.mark.django_db
def test_the_retention_of_failed_logins_is_a_setting(settings):
    settings.KAMENG_LOGIN_FAILURE_RETENTION_DAYS = 2
    _page_login("someone", "guess")
    advance_days(1.5)
    sweeps.run_due_sweeps()
    assert _failures_by_name() == {"someone": 1}
    advance_days(1)
    sweeps.run_due_sweeps()
    assert _failures_by_name() == {}


@pytest.mark.django_db
def test_a_backlog_of_failed_logins_is_forgotten_a_batch_per_run_oldest_first(monkeypatch):
    monkeypatch.setattr(throttle, "FORGET_BATCH", 2)
    for name in ("first", "second", "third"):
        _page_login(name, "guess")
        advance_days(0.01)
    advance_days(31)
    assert throttle.forget_old_failures() == 2
    assert _failures_by_name() == {"third": 1}
    assert throttle.forget_old_failures() == 1
    assert throttle.forget_old_failures() == 0
