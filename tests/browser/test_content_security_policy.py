"""Pages that are not part of a member's flow still work under the Content-Security-Policy (the page fixture fails
a test on any blocked script or style): the operator's admin and the API documentation, served without a CDN."""

import pytest

from kameng.core.roles import Role
from tests.browser.fixtures import log_in
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_api_docs_render_from_our_own_static_files(page, live_server):
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(live_server.url) else None)
    page.goto(f"{live_server.url}/api/v1/docs")
    page.get_by_text("/api/v1/orders", exact=True).first.wait_for()
    assert outside == []


def test_the_plan_editor_in_the_admin_works(page, live_server):
    operator = UserFactory(role=Role.OPERATOR)
    log_in(page, live_server.url, operator.username, PASSWORD)
    page.goto(f"{live_server.url}/admin/membership/plan/add/")
    page.wait_for_selector("input[name=code]")
