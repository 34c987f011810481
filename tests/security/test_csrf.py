"""CSRF: every URL of the site refuses a POST that carries the member's session but not the CSRF token.

The URLs come from the resolver itself, so a page added tomorrow is probed tomorrow with no change here. A view that
is exempt from the check must be listed in EXEMPT with the reason it needs no token, and the list is exact: a new
exempt view fails the test until someone writes down why it is safe.
"""

import re

import pytest
from django.http import HttpResponseForbidden
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.resolvers import RoutePattern

from kameng.core.roles import Role
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

# Views exempt from the CSRF check, by URL name, each with why no token is needed. Nothing else may be exempt.
EXEMPT = {
    # The channels' notifications: Alipay and WeChat Pay post them server to server, signed with the channel's key;
    # the signature is the check (test_notifications_forged.py), a browser's cookie never counts there.
    "payments:notify": "signed by the channel",
    # The same view at a channel's second endpoint: WeChat Pay's 委托代扣 notifications (API v2 XML, signed with
    # the APIv2 key) at /payments/notify/wechat/papay/; no other endpoint name resolves (404).
    "payments:notify-endpoint": "signed by the channel (WeChat 委托代扣 v2, the APIv2 key)",
    # The sandbox plays the channels' servers: the shop calls these the way it calls Alipay's gateway and WeChat
    # Pay's API, signed with the merchant key, no cookie involved.
    "sandbox:alipay-gateway": "the channel's server API, signed by the merchant",
    "sandbox:wechat-h5-prepay": "the channel's server API, signed by the merchant",
    "sandbox:wechat-refund": "the channel's server API, signed by the merchant",
    "sandbox:wechat-native-prepay": "the channel's server API, signed by the merchant",
    "sandbox:wechat-close": "the channel's server API, signed by the merchant",
    "sandbox:wechat-deduct-notice": "the channel's server API, signed by the merchant",
    "sandbox:wechat-pappayapply": "the channel's server API (v2 XML), signed with the APIv2 key",
    "sandbox:wechat-paporderquery": "the channel's server API (v2 XML), signed with the APIv2 key",
    "sandbox:wechat-orderquery": "the channel's server API (v2 XML), signed with the APIv2 key",
    "sandbox:wechat-closeorder": "the channel's server API (v2 XML), signed with the APIv2 key",
    "sandbox:wechat-querycontract": "the channel's server API (v2 XML), signed with the APIv2 key",
    "sandbox:wechat-deletecontract": "the channel's server API (v2 XML), signed with the APIv2 key",
    # The sandbox's cashier and signing page stand in for the buyer's thumb inside the channel's app; they serve whoever
    # holds the link and act for no shop session (docs/security.md, "The sandbox gateway"), as a real cashier does.
    # The 自动续费管理 switch acts for the shop's signed-in member, so it takes the token and is not listed here.
    "sandbox:agreement-sign": "the channel's signing page (sandbox), no shop session",
    "sandbox:pay": "the channel's cashier (sandbox), no shop session",
}
# The JSON API (/api/v1/, django-ninja marks its views exempt) authenticates by a Bearer token in a header, which a
# browser never adds to another site's request; the session cookie does not authenticate it
# (test_the_api_never_takes_the_session_as_authentication). It is probed apart, below.
API_NAMESPACE = "api-v1"

_CONVERTER = re.compile(r"<(?:(?P<kind>\w+):)?(?P<name>\w+)>")
_NAMED_GROUP = re.compile(r"\(\?P<\w+>([^()]*)\)")


def _sample(pattern) -> str:
    """A path segment the pattern matches: converters filled with a harmless value, regex groups with their first
    alternative (the admin's app list) or a digit."""
    text = str(pattern)
    if isinstance(pattern, RoutePattern):
        return _CONVERTER.sub(lambda m: "1" if m["kind"] == "int" else "x1", text)

    def group(m: re.Match) -> str:
        first = m[1].split("|")[0]
        return first if re.fullmatch(r"[\w-]+", first) else "1"

    text = _NAMED_GROUP.sub(group, text).removeprefix("^").removesuffix("$").removesuffix("\\Z")
    return text.replace("(?:.*)", "").replace(".*", "x").replace("\\", "")


def endpoints() -> list[tuple[str, str, object]]:
    """(URL name, a path it answers, its view) for every URL of the site, from the resolver. A route listed twice
    (django-ninja lists a path once per operation name) is answered by its first entry, so only that one counts."""
    found, routes = [], set()

    def walk(patterns, prefix: str, route: str, namespaces: tuple[str, ...]) -> None:
        for entry in patterns:
            path, full_route = prefix + _sample(entry.pattern), route + str(entry.pattern)
            if isinstance(entry, URLResolver):
                namespace = (entry.namespace,) if entry.namespace else ()
                walk(entry.url_patterns, path, full_route, namespaces + namespace)
            elif isinstance(entry, URLPattern) and full_route not in routes:
                routes.add(full_route)
                name = ":".join((*namespaces, entry.name or entry.lookup_str))
                found.append((name, "/" + path, entry.callback))

    walk(get_resolver().url_patterns, "", "", ())
    for name, path, view in found:
        assert resolve(path).func is view, f"no sample path for {name}: teach _sample its pattern"
    return found


CSRF_REFUSAL = b"refused by the CSRF check"


def refused_by_the_csrf_check(request, reason: str = ""):
    """Stands in for Django's CSRF failure page (whose words follow the reader's language) so the probes can tell
    the CSRF refusal from any other 403."""
    return HttpResponseForbidden(CSRF_REFUSAL)


@pytest.fixture(autouse=True)
def _recognisable_csrf_refusal(settings):
    settings.CSRF_FAILURE_VIEW = f"{__name__}.refused_by_the_csrf_check"


def _exempt(view) -> bool:
    return getattr(view, "csrf_exempt", False)


def signed_in(role: str = Role.MEMBER) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(UserFactory(role=role))
    client.get("/")  # the CSRF cookie is set, as it is for anyone who has opened a page
    return client


def test_the_exempt_views_are_exactly_the_listed_ones():
    exempt = {
        name for name, _, view in endpoints() if _exempt(view) and not name.startswith(API_NAMESPACE + ":")
    }

    assert exempt == set(EXEMPT)


def test_every_other_url_refuses_a_post_without_the_csrf_token():
    """Pages and admin alike, signed in as staff with every role, so no view turns the request away for another
    reason first (the check runs before the view; a refusal must be the CSRF one)."""
    client = signed_in(Role.ADMIN)
    probed, let_through = 0, []
    for name, path, view in endpoints():
        if _exempt(view):
            continue
        answer = client.post(path, {"probe": "1"})
        probed += 1
        if (answer.status_code, answer.content) != (403, CSRF_REFUSAL):
            let_through.append(f"{name} {path} → {answer.status_code}")

    assert not let_through
    assert probed > 100  # the admin's forms are in the walk too


def test_the_same_post_with_the_token_is_let_through():
    """The control: the refusal above is the token's doing. The member's logout, with the token, logs out."""
    client = signed_in()
    token = client.cookies["csrftoken"].value

    assert client.post("/accounts/logout/", {"csrfmiddlewaretoken": token}).status_code == 302
    assert "_auth_user_id" not in client.session


def test_the_api_never_takes_the_session_as_authentication():
    """Why the API needs no CSRF token: a signed-in administrator's session, posting with no Bearer token, is
    refused on every API write that needs a user. The writes that need none are listed, and the list is exact."""
    public_writes = {
        "api-v1:register": "makes an account, does not sign the session in",
        "api-v1:token": "answers a token in the body, which another site cannot read",
    }
    client = signed_in(Role.ADMIN)
    answered = set()
    for name, path, _view in endpoints():
        if not name.startswith(API_NAMESPACE + ":"):
            continue
        answer = client.post(path, "{}", content_type="application/json")
        if answer.status_code not in (401, 403, 405):  # 405: a path that takes no POST
            answered.add(name)

    assert answered == set(public_writes)
