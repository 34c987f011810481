"""Limits and bad filters seen in a browser (issue 13, items 9 and 11): the page says why, in the page's language,
and keeps what the person typed."""

import pytest
from PIL import Image

from kameng.core.roles import Role
from kameng.support import services
from kameng.support.models import Ticket
from tests.browser.fixtures import log_in
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_member_past_the_ticket_limit_reads_why_and_keeps_the_text(page, live_server, tmp_path):
    member = UserFactory()
    for n in range(5):
        services.file_ticket(user=member, category="other", reason=f"问题 {n}")
    shot = tmp_path / "shot.png"
    Image.new("RGB", (40, 30), (0, 128, 0)).save(shot)
    log_in(page, live_server.url, member.username, PASSWORD)

    page.goto(f"{live_server.url}/support/tickets/new/")
    page.select_option("select[name=category]", "refund")
    page.fill("textarea[name=reason]", "上周的扣款我没有同意")
    page.set_input_files("input[name=screenshot]", str(shot))
    page.click("main button[type=submit]")

    assert "提交工单太频繁" in page.locator("#form-problem").inner_text()
    assert "截图需要重新选择" in page.locator("#form-problem").inner_text()
    assert page.locator("textarea[name=reason]").input_value() == "上周的扣款我没有同意"
    assert page.locator("select[name=category]").input_value() == "refund"
    assert Ticket.objects.filter(user=member).count() == 5


def test_an_operator_asking_for_year_9999_reads_a_message_above_the_last_30_days(page, live_server):
    operator = UserFactory(role=Role.OPERATOR)
    log_in(page, live_server.url, operator.username, PASSWORD)

    page.goto(f"{live_server.url}/console/?from=2026-01-01&to=9999-12-31")

    assert "日期须在 2000-01-01 到" in page.locator("#filter-problem").inner_text()
    assert page.locator("#chart-revenue svg").count() == 1
