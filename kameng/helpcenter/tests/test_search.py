import pytest
from django.test import Client

from kameng.core.roles import Role
from kameng.helpcenter.selectors import search_help
from kameng.helpcenter.services import ensure_default_entries
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _defaults():
    """The data migration creates them; tests that flush the database (transactional ones) remove them again."""
    ensure_default_entries()


LEAVING = [
    "退订", "取消会员", "自动续费", "关闭自动续费", "退款", "不想续费", "怎么取消", "unsubscribe", "cancel",
    "退定", "unsubcribe", "cancle", "我想退订会员", "怎么关闭自动续费啊", "UNSUBSCRIBE", "  退订  ",
]  # fmt: skip


@pytest.mark.parametrize("query", LEAVING)
def test_every_way_of_asking_to_leave_puts_the_official_cancel_entry_first(query):
    results = search_help(query)
    assert (results[0].title, results[0].url, results[0].pinned) == ("退订会员", "/member/cancel/", True)


def test_chinese_is_segmented_not_substring_matched():
    titles = [r.title for r in search_help("退款规则")]
    assert "退款规则" in titles
    assert "如何退订会员" not in [
        r.title for r in search_help("何退")
    ]  # a fragment across words finds nothing


def test_a_query_about_tickets_pins_the_ticket_entry():
    assert search_help("客服")[0].title == "提交工单"


def test_markup_in_the_query_is_escaped_on_the_page():
    page = Client().get("/help/search", {"q": "<script>alert(1)</script>退订"}).content.decode()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert page.index("退订会员") < page.index("如何退订会员")


def test_a_10000_character_query_is_answered_on_page_and_api():
    long = "退订" * 5000
    assert Client().get("/help/search", {"q": long}).status_code == 200
    answer = Client().get("/api/v1/help/search", {"q": long})
    assert answer.status_code == 200 and answer.json()["results"][0]["pinned"] is True


def test_api_shape():
    body = Client().get("/api/v1/help/search", {"q": "cancel"}).json()
    assert set(body["results"][0]) == {"title", "url", "kind", "pinned"}
    assert body["results"][0] == {
        "title": "退订会员",
        "url": "/member/cancel/",
        "kind": "action",
        "pinned": True,
    }


def test_the_header_of_every_page_has_the_search_box():
    for path in ("/", "/member/plans/", "/help/"):
        assert 'id="header-search"' in Client().get(path).content.decode()


def test_only_operators_edit_help_content():
    operator, member = UserFactory(role=Role.OPERATOR), UserFactory()
    staff = Client()
    staff.force_login(operator)
    assert staff.get("/admin/helpcenter/article/").status_code == 200
    guest = Client()
    guest.force_login(member)
    assert guest.get("/admin/helpcenter/article/").status_code == 302
