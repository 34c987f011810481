"""What an operator does in a browser: import card keys with a report of rejected lines, then read the dashboard."""

import pytest

from kameng.accounts.models import Role
from kameng.inventory.models import CardKey
from tests.browser.conftest import log_in
from tests.factories import PASSWORD, PlanFactory, UserFactory, join_vip, stocked_product

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_operator_imports_keys_and_reads_the_dashboard(page, live_server):
    product = stocked_product(keys=0, name="点卡 50")
    join_vip(UserFactory(), PlanFactory(name="月卡"))
    operator = UserFactory(role=Role.OPERATOR)
    log_in(page, live_server.url, operator.username, PASSWORD)
    page.goto(f"{live_server.url}/admin/inventory/importbatch/import/")
    page.select_option("select[name=product]", str(product.pk))
    page.fill("textarea[name=lines]", "GOOD-KEY-0001\nGOOD-KEY-0002\nGOOD-KEY-0001\n")
    page.click("input[type=submit]")
    report = page.locator("#content").inner_text()
    assert "导入 2" in report and "重复 1" in report
    assert CardKey.objects.filter(product=product).count() == 2
    page.goto(f"{live_server.url}/console/")
    assert page.locator("#chart-active_members svg").count() == 1
    assert "月卡" in page.locator("#table-active_members").inner_text()
