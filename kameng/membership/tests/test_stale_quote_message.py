"""A stale quote on the cancel page is one clear message naming the refund before and after in ¥, with the cause
when the shop knows it (a VIP saving used inside the 48-hour window), a generic one otherwise; zh and en."""

import re

import pytest
from django.test import Client

from kameng.core.money import format_yuan
from tests.factories import PlanFactory, UserFactory, join_vip, pay_in_sandbox, place_order, stocked_product

pytestmark = pytest.mark.django_db
YEAR_FEE = 36500


def member_on_the_cancel_page(language: str = "zh-hans") -> tuple:
    user = UserFactory()
    join_vip(user, PlanFactory(name="年卡", period="year", price_fen=YEAR_FEE, discount_percent=10))
    client = Client()
    client.force_login(user)
    client.cookies["django_language"] = language
    page = client.get("/member/cancel/").content.decode()
    return user, client, re.search(r'name="quote_id" value="([^"]+)"', page).group(1)


def stale_notice(client: Client, quote_id: str) -> tuple[str, str]:
    answer = client.post("/member/cancel/", {"mode": "immediate", "quote_id": quote_id})
    assert answer.status_code == 409
    page = answer.content.decode()
    notice = re.search(r'<p class="notice" id="stale-quote" role="alert">(.*?)</p>', page, re.S).group(1)
    new = re.search(r'id="refund-amount">([^<]+)<', page).group(1)
    return " ".join(notice.split()), new


def test_a_saving_used_after_a_full_refund_quote_names_both_amounts_and_the_cause():
    user, client, quote_id = member_on_the_cancel_page()
    pay_in_sandbox(place_order(user, stocked_product(keys=10, price_fen=1999), quantity=10))
    notice, new = stale_notice(client, quote_id)
    assert (
        notice
        == f"报价已变:退款由 {format_yuan(YEAR_FEE)} 变为 {new}(期间使用了会员优惠)。请确认新的报价后再提交。"
    )


def test_the_stale_quote_message_reads_in_english():
    user, client, quote_id = member_on_the_cancel_page("en")
    pay_in_sandbox(place_order(user, stocked_product(keys=10, price_fen=1999), quantity=10))
    notice, new = stale_notice(client, quote_id)
    assert notice == (
        f"The quote has changed: the refund went from ¥365.00 to {new} (a VIP saving was used since). "
        "Please check the new quote before you submit again."
    )


def test_a_change_the_shop_cannot_name_gets_the_generic_cause_and_the_amount():
    user, client, quote_id = member_on_the_cancel_page()
    place_order(user, stocked_product(keys=10, price_fen=1999), quantity=10)  # unpaid: the refund is the same
    notice, new = stale_notice(client, quote_id)
    assert new == "¥365.00"
    assert notice == "报价已更新(你的会员情况有变),退款为 ¥365.00。请确认新的报价后再提交。"
