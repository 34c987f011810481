"""订单 in the console: the order page, and 查询渠道状态 for an order's trade and for a refund: the channel is asked
now, its answer applied and shown, and who asked is in the audit log."""

import re

import pytest
from django.db import transaction
from django.test import Client

from kameng.core import clock, outbox
from kameng.core.models import AuditLog
from kameng.core.roles import Role
from kameng.orders.models import Order
from kameng.payments import services
from kameng.payments.models import Payment, Refund
from kameng.sandbox import faults
from kameng.sandbox.models import SandboxTrade
from tests.factories import UserFactory, place_order, stocked_product

pytestmark = pytest.mark.django_db


def logged_in(role, *, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(UserFactory(role=role))
    return client


def shown(page) -> str:
    """The page's messages, without markup."""
    return " ".join(re.sub(r"<[^>]+>", "", page.content.decode()).split())


def paid_unnoticed(settings) -> Order:
    """Paid at the channel, its notification never sent: the shop still says pending."""
    settings.KAMENG_SANDBOX_NOTIFY = False
    order = place_order(UserFactory(), stocked_product(keys=1))
    assert Client().post(f"/sandbox/pay/{order.order_no}").status_code == 200
    return order


def test_staff_see_the_order_with_its_query_button():
    order = place_order(UserFactory(), stocked_product(keys=1))
    page = logged_in(Role.FINANCE).get(f"/console/orders/{order.order_no}/")
    assert page.status_code == 200
    assert order.order_no in page.content.decode() and "查询渠道状态" in page.content.decode()


def test_a_member_cannot_see_the_console_order_page():
    order = place_order(UserFactory(), stocked_product(keys=1))
    assert logged_in(Role.MEMBER).get(f"/console/orders/{order.order_no}/").status_code == 404


def test_the_button_records_a_payment_the_channel_took_and_says_so(settings):
    order = paid_unnoticed(settings)
    staff = logged_in(Role.OPERATOR)
    page = staff.post(f"/console/orders/{order.order_no}/query/", follow=True)
    assert "渠道答复“已支付”" in shown(page) and "已按渠道答复记录这笔支付" in shown(page)
    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED
    asked = AuditLog.objects.get(action="payment.channel_queried")
    assert asked.actor.role == Role.OPERATOR and asked.data["channel_state"] == "paid"
    assert AuditLog.objects.get(action="payment.received").source == AuditLog.Source.QUERY


def test_asking_again_changes_nothing_more(settings):
    order = paid_unnoticed(settings)
    staff = logged_in(Role.OPERATOR)
    staff.post(f"/console/orders/{order.order_no}/query/")
    page = staff.post(f"/console/orders/{order.order_no}/query/", follow=True)
    assert "未做任何更改" in shown(page)
    assert Payment.objects.filter(order=order).count() == 1
    assert AuditLog.objects.filter(action="payment.channel_queried").count() == 2


def test_the_answer_is_shown_in_english_to_an_english_speaking_operator(settings):
    order = paid_unnoticed(settings)
    page = logged_in(Role.OPERATOR).post(
        f"/console/orders/{order.order_no}/query/", follow=True, headers={"Accept-Language": "en"}
    )
    assert "The channel answered “paid”." in shown(page)


def test_an_expired_unpaid_order_is_closed_at_the_channel_so_it_can_never_be_paid():
    order = place_order(UserFactory(), stocked_product(keys=1))
    trade = SandboxTrade.objects.create(
        channel="alipay",
        out_trade_no=order.order_no,
        trade_no="2026SANDBOXCLOSE1",
        amount_fen=order.amount_fen,
        subject="x",
        notify_url="http://testserver/payments/notify/alipay/",
        created_at=clock.now(),
    )  # the buyer opened the cashier and left
    clock.advance(seconds=3600)
    page = logged_in(Role.OPERATOR).post(f"/console/orders/{order.order_no}/query/", follow=True)
    assert "已在渠道关闭交易" in shown(page)
    trade.refresh_from_db()
    assert trade.status == SandboxTrade.Status.CLOSED
    assert Client().post(f"/sandbox/pay/{order.order_no}").status_code == 409  # the buyer comes back: refused


def test_the_refund_button_confirms_a_refund_the_channel_made(settings):
    order = paid_unnoticed(settings)
    staff = logged_in(Role.OPERATOR)
    staff.post(f"/console/orders/{order.order_no}/query/")
    with transaction.atomic():
        refund = services.request_refund(
            payment=Payment.objects.get(order=order),
            amount_fen=order.amount_fen,
            reason=Refund.Reason.OUT_OF_STOCK,
        )
    settings.KAMENG_SANDBOX_FAULT_RATE = 1.0
    faults.reseed(0)  # the channel pays the refund back; its answer is lost
    outbox.deliver_due()
    settings.KAMENG_SANDBOX_FAULT_RATE = 0.0
    page = staff.post(f"/console/refunds/{refund.refund_no}/query/", follow=True)
    assert "渠道答复“退款成功”" in shown(page) and "已确认退款" in shown(page)
    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert AuditLog.objects.get(action="refund.channel_queried").actor is not None


def test_the_button_needs_the_csrf_token(settings):
    order = paid_unnoticed(settings)
    answer = logged_in(Role.OPERATOR, csrf=True).post(f"/console/orders/{order.order_no}/query/")
    assert answer.status_code == 403
    assert not AuditLog.objects.filter(action="payment.channel_queried").exists()


def test_the_find_box_takes_an_order_number():
    order = place_order(UserFactory(), stocked_product(keys=1))
    found = logged_in(Role.OPERATOR).get("/console/members/", {"q": order.order_no})
    assert found.status_code == 302 and found["Location"] == f"/console/orders/{order.order_no}/"


@pytest.mark.parametrize(("language", "said"), [("zh-hans", "· 已支付"), ("en", "· Paid")])
def test_the_page_names_the_channels_last_answer_in_the_readers_language(settings, language, said):
    order = paid_unnoticed(settings)
    staff = logged_in(Role.OPERATOR)
    staff.post(f"/console/orders/{order.order_no}/query/")
    page = staff.get(f"/console/orders/{order.order_no}/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
    line = page.split('id="trade-check">', 1)[1].split("</p>", 1)[0]
    assert said in line and ("paid" not in line if language != "en" else "已支付" not in line)
