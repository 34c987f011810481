import pytest
from django.test import Client

from kameng.membership.models import Membership
from tests.factories import PlanFactory, UserFactory, api_client, post_json

pytestmark = pytest.mark.django_db


def test_a_nul_character_in_a_json_body_is_a_clear_400():
    body = {"plan_code": PlanFactory().code + "\u0000", "channel": "alipay"}
    answer = post_json(api_client(UserFactory()), "/api/v1/membership/subscribe", body)
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "malformed_json"
    assert not Membership.objects.exists()


def test_a_nul_character_in_a_form_or_query_is_a_clear_400():
    user = UserFactory()
    client = Client()
    client.force_login(user)
    assert client.post("/member/subscribe/", {"plan_code": "a\x00b", "channel": "alipay"}).status_code == 400
    assert client.get("/member/plans/?x=%00").status_code == 400
    assert not Membership.objects.exists()


@pytest.mark.parametrize(
    ("language", "text"), [("zh-hans", "这个地址没有内容"), ("en", "There is nothing at this address")]
)
def test_a_page_that_does_not_exist_is_answered_inside_the_site_in_the_readers_language(language, text):
    page = Client(headers={"Accept-Language": language}).get("/no-such-page/")
    assert page.status_code == 404
    html = page.content.decode()
    assert text in html and '<a href="/">' in html
    assert "The requested resource was not found" not in html
