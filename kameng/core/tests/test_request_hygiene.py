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
