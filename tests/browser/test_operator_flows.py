"""What an operator does in a browser: import card keys with a report of rejected lines, then read the dashboard."""

import pytest

from kameng.core.roles import Role
from kameng.inventory.models import CardKey
from tests.browser.fixtures import log_in
from tests.factories import PASSWORD, PlanFactory, UserFactory, join_vip, stocked_product

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_operator_imports_keys_and_reads_the_dashboard(page, live_server):
    product = stocked_product(keys=0, name="点卡 50")
    join_vip(UserFactory(), PlanFactory(name="月卡"))
    operator = UserFactory(role=Role.OPERATOR)
    log_in(page, live_server.url, operator.username, PASSWORD)
    page.goto(f"{live_server.url}/console/keys/import/")
    page.select_option("#import-product", str(product.pk))
    keys = [f"GOOD-KEY-{n:05d}" for n in range(1200)] + ["GOOD-KEY-00007"]  # three pieces; one duplicate
    page.fill("#import-lines", "\n".join(keys))
    page.click("#import-form button[type=submit]")
    page.wait_for_selector("#import-counts[data-done='1']")
    assert page.locator("#import-bar").get_attribute("value") == "100"
    assert "已导入 1200" in page.locator("#import-counts").inner_text()
    assert page.locator("#import-rejected tbody td").first.inner_text() == "1201"
    assert CardKey.objects.filter(product=product).count() == 1200
    page.goto(f"{live_server.url}/console/")
    assert page.locator("#chart-active_members svg").count() == 1
    assert "月卡" in page.locator("#table-active_members").inner_text()
