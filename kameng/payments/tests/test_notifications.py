import json
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from django.test import Client

from kameng.core import clock
from kameng.core.money import yuan_str
from kameng.inventory.models import CardKey
from kameng.orders.models import Order
from kameng.payments.models import NotificationLog, Payment, Refund
from kameng.protocols import alipay as alipay_protocol
from kameng.protocols import wechat as wechat_protocol
from kameng.sandbox import keys
from kameng.sandbox.keys import _keypair
from kameng.sandbox.models import SandboxTrade
from tests.factories import UserFactory, pay_in_sandbox, place_order, stocked_product

pytestmark = pytest.mark.django_db


def alipay_params(order, **overrides) -> dict:
    params = {
        "notify_id": f"N{order.order_no}",
        "notify_type": "trade_status_sync",
        "charset": "utf-8",
        "version": "1.0",
        "notify_time": clock.now().strftime("%Y-%m-%d %H:%M:%S"),
        "app_id": keys.ALIPAY_APP_ID,
        "trade_no": f"T{order.order_no}",
        "out_trade_no": order.order_no,
        "trade_status": "TRADE_SUCCESS",
        "total_amount": yuan_str(order.amount_fen),
    }
    return {**params, **overrides}


def post_alipay(params: dict, private_key: str | None = None):
    signed = alipay_protocol.sign_notification(params, private_key or keys.sandbox_keys()["alipay_private"])
    return Client().post(
        "/payments/notify/alipay/", urlencode(signed), content_type="application/x-www-form-urlencoded"
    )


def post_wechat(order, *, amount=None, now_ts=None, event_id="EV-1", private_key=None):
    k = keys.sandbox_keys()
    headers, body = wechat_protocol.build_callback(
        event_type="TRANSACTION.SUCCESS",
        summary="支付成功",
        resource_plain={
            "mchid": keys.WECHAT_MCHID,
            "appid": keys.WECHAT_APPID,
            "out_trade_no": order.order_no,
            "transaction_id": f"42{order.order_no}",
            "trade_state": "SUCCESS",
            "amount": {"total": order.amount_fen if amount is None else amount, "currency": "CNY"},
        },
        resource_type_original="transaction",
        apiv3_key=k["wechat_apiv3_key"],
        platform_private_key_pem=private_key or k["wechat_platform_private"],
        platform_serial=keys.WECHAT_PLATFORM_SERIAL,
        now_ts=now_ts or int(clock.now().timestamp()),
        event_id=event_id,
    )
    return Client().post(
        "/payments/notify/wechat/",
        body,
        content_type="application/json",
        headers={k: v for k, v in headers.items()},
    )


def _order(channel="alipay", keys_=2):
    return place_order(UserFactory(), stocked_product(keys=keys_), channel=channel)


def _unchanged(order):
    order.refresh_from_db()
    return order.status == Order.Status.PENDING_PAYMENT and not Payment.objects.exists()


def test_a_genuine_alipay_notification_pays_and_delivers_and_is_answered_success():
    order = _order()
    response = post_alipay(alipay_params(order))
    assert response.status_code == 200 and response.content == b"success"
    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED


def test_a_forged_alipay_notification_is_refused_and_changes_nothing():
    order = _order()
    forger, _ = _keypair()
    response = post_alipay(alipay_params(order), private_key=forger)
    assert response.status_code == 400 and response.content != b"success"
    assert _unchanged(order)
    assert NotificationLog.objects.get().reason == "bad signature"


def test_a_notification_whose_amount_differs_from_the_order_is_refused():
    order = _order()
    response = post_alipay(alipay_params(order, total_amount=yuan_str(order.amount_fen - 1)))
    assert response.status_code == 400
    assert _unchanged(order)


def test_a_notification_for_an_order_that_is_not_ours_is_refused():
    order = _order()
    assert post_alipay(alipay_params(order, out_trade_no="K-NOT-OURS")).status_code == 400
    assert _unchanged(order)


def test_a_notification_for_another_app_is_refused():
    order = _order()
    assert post_alipay(alipay_params(order, app_id="2021999999999999")).status_code == 400
    assert _unchanged(order)


def test_a_notification_for_an_order_placed_on_the_other_channel_is_refused():
    order = _order(channel="wechat")
    assert post_alipay(alipay_params(order)).status_code == 400
    assert _unchanged(order)


def test_a_refused_notification_does_not_block_the_genuine_one_with_the_same_notify_id():
    order = _order()
    forger, _ = _keypair()
    post_alipay(alipay_params(order), private_key=forger)
    assert post_alipay(alipay_params(order)).content == b"success"
    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED


def test_the_same_notification_delivered_ten_times_is_processed_once():
    order = _order()
    for _ in range(10):
        assert post_alipay(alipay_params(order)).content == b"success"
    assert Payment.objects.count() == 1
    assert NotificationLog.objects.filter(accepted=True).count() == 1
    assert CardKey.objects.filter(order=order, status=CardKey.Status.SOLD).count() == 1


def test_trade_finished_after_trade_success_is_the_same_payment_not_a_second_one():
    order = _order()
    post_alipay(alipay_params(order))
    post_alipay(alipay_params(order, notify_id="N2", trade_status="TRADE_FINISHED"))
    assert Payment.objects.count() == 1
    assert not Refund.objects.exists()


def test_a_second_payment_for_a_paid_order_is_refunded():
    order = _order()
    post_alipay(alipay_params(order))
    post_alipay(alipay_params(order, notify_id="N2", trade_no="T-second"))
    assert Refund.objects.get().reason == Refund.Reason.DUPLICATE_PAYMENT
    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED


def test_a_waiting_trade_notification_is_acknowledged_without_effect():
    order = _order()
    assert post_alipay(alipay_params(order, trade_status="WAIT_BUYER_PAY")).content == b"success"
    assert _unchanged(order)


def test_a_body_that_is_not_utf8_is_refused():
    response = Client().post(
        "/payments/notify/alipay/",
        "a=\xff".encode("latin-1"),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 400


def test_a_genuine_wechat_callback_pays_and_delivers():
    order = _order(channel="wechat")
    assert post_wechat(order).status_code == 204
    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED


def test_a_wechat_callback_signed_more_than_300_seconds_ago_is_refused():
    order = _order(channel="wechat")
    assert post_wechat(order, now_ts=int(clock.now().timestamp()) - 301).status_code == 400
    assert _unchanged(order)


def test_a_wechat_probe_with_a_wrong_signature_is_refused():
    order = _order(channel="wechat")
    forger, _ = _keypair()
    response = post_wechat(order, private_key=forger)
    assert response.status_code == 400 and json.loads(response.content)["code"] == "FAIL"
    assert _unchanged(order)


def test_a_wechat_callback_with_a_wrong_amount_is_refused():
    order = _order(channel="wechat")
    assert post_wechat(order, amount=1).status_code == 400
    assert _unchanged(order)


def test_notifications_to_an_unknown_channel_path_are_404():
    assert Client().post("/payments/notify/paypal/", b"x", content_type="text/plain").status_code == 404


def test_the_sandbox_keeps_retrying_a_refused_notification_on_alipays_schedule(monkeypatch):
    order = _order()
    from kameng.payments import services
    from kameng.sandbox.models import SandboxNotification
    from kameng.sandbox.services import RETRY_SCHEDULE, deliver_due_notifications

    original = services.process_notification
    monkeypatch.setattr(
        services,
        "process_notification",
        lambda **kw: services.get_channel(kw["channel"]).nack("database down"),
    )
    Client().post(f"/sandbox/pay/{order.order_no}")
    assert deliver_due_notifications() == 0
    note = SandboxNotification.objects.get()
    assert note.attempts == 1 and note.delivered_at is None
    assert (note.next_attempt_at - clock.now()).total_seconds() == pytest.approx(
        RETRY_SCHEDULE["alipay"][0], abs=5
    )
    monkeypatch.setattr(services, "process_notification", original)
    clock.advance(seconds=RETRY_SCHEDULE["alipay"][0] + 1)
    assert deliver_due_notifications() == 1
    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED


def test_a_person_pays_through_the_pages_pay_link_cashier_and_back():
    order = _order()
    client = Client()
    to_gateway = client.get(f"/orders/{order.order_no}/pay/")
    assert to_gateway.status_code == 302 and "/sandbox/alipay/gateway.do?" in to_gateway["Location"]
    assert "sign=" in to_gateway["Location"]
    cashier = client.get(to_gateway["Location"])
    assert cashier.status_code == 200 and yuan_str(order.amount_fen) in cashier.content.decode()
    paid = client.post(
        f"/sandbox/pay/{order.order_no}",
        {"return_url": f"http://127.0.0.1:8000/orders/{order.order_no}/"},
        headers={"Accept": "text/html"},
    )
    assert paid.status_code == 302
    from kameng.sandbox.services import deliver_due_notifications

    deliver_due_notifications()
    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED


def test_a_pay_link_whose_amount_was_lowered_is_refused_by_the_gateway():
    order = _order()
    location = Client().get(f"/orders/{order.order_no}/pay/")["Location"]
    parts = urlsplit(location)
    params = dict(parse_qsl(parts.query))
    biz = json.loads(params["biz_content"])
    assert biz["total_amount"] == yuan_str(order.amount_fen)
    biz["total_amount"] = (
        "0.01"  # the buyer edits the link to pay one fen; the merchant's signature stays as it was
    )
    tampered = urlunsplit(parts._replace(query=urlencode({**params, "biz_content": json.dumps(biz)})))
    answer = Client().get(tampered)
    assert answer.status_code == 400
    assert not SandboxTrade.objects.filter(out_trade_no=order.order_no).exists()


def test_paying_a_wechat_order_through_the_h5_flow():
    order = _order(channel="wechat")
    location = Client().get(f"/orders/{order.order_no}/pay/")["Location"]
    assert "/sandbox/wechat/h5/" in location
    assert Client().get(location).status_code == 200
    pay_in_sandbox(order)
    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED
