"""Bad input that still costs us, and what one person can make the shop store (issue 13, items 9 and 11).

Each test plays the attacker through the real HTTP stack (the test client) where the hole was in it, and checks
both the refusal (a clear 4xx in the reader's language, 429 with Retry-After for a limit) and that nothing changed.
The races run on PostgreSQL.
"""

import hashlib
import io
import os
import struct
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from PIL import Image, PngImagePlugin

from kameng.catalog import pricing
from kameng.console.filters import latest
from kameng.core import clock, ratelimit
from kameng.core.errors import DomainError
from kameng.core.money import yuan_str
from kameng.core.roles import Role
from kameng.inventory.models import CardKey
from kameng.orders import services as orders
from kameng.orders.models import Order
from kameng.payments.models import NotificationLog
from kameng.protocols import alipay as alipay_protocol
from kameng.sandbox import keys
from kameng.support import services as support_services
from kameng.support.models import Ticket, TicketMessage
from tests.factories import (
    PlanFactory,
    UserFactory,
    api_client,
    join_vip,
    pay_in_sandbox,
    place_order,
    post_json,
    stocked_product,
)


def _order(client: Client, sku: str, quantity: int = 1, **headers):
    return post_json(
        client, "/api/v1/orders", {"sku": sku, "quantity": quantity, "channel": "alipay"}, **headers
    )


# --- item 9: every order kind reads through the same API -----------------------------------------------------------


@pytest.mark.django_db
def test_a_membership_order_reads_through_the_order_api_with_its_plan_and_no_cards():
    member = UserFactory()
    membership = join_vip(member, PlanFactory(name="年卡", period="year", price_fen=19900))
    order = Order.objects.get(user=member, kind=Order.Kind.MEMBERSHIP)
    assert membership.status == "active"

    answer = api_client(member).get(f"/api/v1/orders/{order.order_no}")

    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["kind"] == "membership" and "年卡" in body["subject"]
    assert body["sku"] == "" and body["cards"] == []
    assert body["status"] == "delivered" and body["amount_fen"] == 19900


@pytest.mark.django_db
def test_a_goods_order_says_its_kind_and_what_was_bought():
    buyer = UserFactory()
    order = place_order(buyer, stocked_product(sku="qq-coins-30", name="QQ币 30 元"))

    body = api_client(buyer).get(f"/api/v1/orders/{order.order_no}").json()

    assert body["kind"] == "goods" and body["sku"] == "qq-coins-30" and body["subject"] == "QQ币 30 元 × 1"


# --- item 9: report dates outside a sane range get a message, never a 500 -----------------------------------------


def _operator() -> Client:
    client = Client()
    client.force_login(UserFactory(role=Role.OPERATOR))
    return client


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query", ["from=9999-12-31", "to=9999-12-31", "from=0001-01-01", "from=0001-01-01&to=0001-01-02"]
)
def test_a_date_outside_the_sane_range_renders_the_dashboard_with_a_message(query):
    page = _operator().get(f"/console/?{query}")

    assert page.status_code == 200
    text = page.content.decode()
    assert 'id="filter-problem"' in text and "2000-01-01" in text
    assert text.count("<svg") == 6  # the last 30 days' numbers are still there


@pytest.mark.django_db
def test_the_dashboards_date_message_is_in_english_by_accept_language():
    page = _operator().get("/console/?from=9999-12-31", headers={"Accept-Language": "en"})

    assert "must be between 2000-01-01 and" in page.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("table", ["revenue", "reminders", "new_vs_cancelled"])
@pytest.mark.parametrize(
    "query",
    [
        "from=9999-12-31",
        "to=9999-12-31",
        "from=0001-01-01&to=0001-01-02",
        "from=9999-12-30&to=9999-12-31",
        "from=2026-02-30",
    ],
)
def test_the_csv_export_refuses_a_date_outside_the_sane_range_with_a_message(table, query):
    answer = _operator().get(f"/console/export/{table}.csv?{query}")

    assert answer.status_code == 422
    assert answer["Content-Type"].startswith("text/html") and "日期" in answer.content.decode()


@pytest.mark.django_db
def test_the_report_command_refuses_a_date_outside_the_sane_range():
    with pytest.raises(CommandError, match="2000-01-01"):
        call_command("export_report", "revenue", "--from", "0001-01-01", stdout=io.StringIO())


@pytest.mark.django_db
def test_the_last_allowed_date_still_reports():
    client = _operator()
    last = latest()

    answer = client.get(f"/console/export/revenue.csv?from={last - timedelta(days=30)}&to={last}")

    assert answer.status_code == 200 and answer["Content-Type"].startswith("text/csv")


ANY_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=40
)
ANY_DATE = st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31))


@st.composite
def date_filters(draw) -> tuple[str, str]:
    """`from` and `to` as an operator or a prober may type them: free text, any real date, or a short range that
    may sit at either end of the calendar (where a day more or a time zone less overflows)."""
    kind = draw(st.sampled_from(["text", "dates", "range"]))
    if kind == "text":
        return draw(ANY_TEXT), draw(ANY_TEXT)
    if kind == "dates":
        return draw(ANY_DATE).isoformat(), draw(ANY_DATE).isoformat()
    start = draw(st.one_of(ANY_DATE, st.sampled_from([date(1, 1, 1), date(9999, 12, 1), date(9999, 12, 31)])))
    end = start + timedelta(days=min(draw(st.integers(0, 400)), (date.max - start).days))
    return start.isoformat(), end.isoformat()


@pytest.mark.django_db
@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(dates=date_filters(), plan=st.text(max_size=10).filter(lambda t: "\x00" not in t))
def test_no_report_filter_whatsoever_is_a_server_error(dates, plan):
    client = _operator()
    query = urlencode({"from": dates[0], "to": dates[1], "plan": plan})

    page = client.get(f"/console/?{query}")
    export = client.get(f"/console/export/revenue.csv?{query}")

    assert page.status_code == 200
    assert export.status_code in (200, 422)


# --- item 11: one account cannot hold the stock in unpaid orders ---------------------------------------------------


@pytest.mark.django_db
def test_a_fourth_unpaid_order_is_refused_429_with_retry_after_and_reserves_nothing():
    product = stocked_product(keys=10)
    client = api_client(UserFactory())
    for _ in range(3):
        assert _order(client, product.sku).status_code == 201

    refused = _order(client, product.sku)

    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "too_many_unpaid_orders"
    assert "待支付订单" in refused.json()["error"]["message"]
    assert 0 < int(refused["Retry-After"]) <= 15 * 60  # when the first unpaid order expires
    assert Order.objects.count() == 3
    assert CardKey.objects.filter(status=CardKey.Status.RESERVED).count() == 3


@pytest.mark.django_db
def test_the_unpaid_orders_refusal_is_in_english_by_accept_language():
    product = stocked_product(keys=10)
    client = api_client(UserFactory())
    for _ in range(3):
        _order(client, product.sku)

    refused = _order(client, product.sku, **{"Accept-Language": "en"})

    assert refused.status_code == 429 and "unpaid orders" in refused.json()["error"]["message"]


@pytest.mark.django_db
def test_a_member_cannot_reserve_more_than_twenty_keys_in_unpaid_orders():
    product = stocked_product(keys=40)
    client = api_client(UserFactory())
    assert _order(client, product.sku, quantity=15).status_code == 201

    refused = _order(client, product.sku, quantity=6)

    assert refused.status_code == 429 and refused.json()["error"]["code"] == "too_many_reserved_keys"
    assert CardKey.objects.filter(status=CardKey.Status.RESERVED).count() == 15
    assert _order(client, product.sku, quantity=5).status_code == 201


@pytest.mark.django_db
def test_one_order_cannot_ask_for_more_keys_than_a_member_may_reserve():
    product = stocked_product(keys=30)

    refused = _order(api_client(UserFactory()), product.sku, quantity=21)

    assert refused.status_code == 422 and refused.json()["error"]["code"] == "bad_quantity"
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_paid_and_expired_orders_free_the_allowance():
    product = stocked_product(keys=10)
    buyer = UserFactory()
    client = api_client(buyer)
    first, *_ = [_order(client, product.sku).json()["order_no"] for _ in range(3)]
    pay_in_sandbox(Order.objects.get(order_no=first))
    assert _order(client, product.sku).status_code == 201  # one paid: room for one more

    clock.advance(seconds=16 * 60)  # the unpaid ones expire (the sweep has not even run yet)

    assert _order(client, product.sku).status_code == 201


@pytest.mark.django_db
def test_order_creation_is_rate_limited_per_member_and_the_window_passes(settings):
    settings.KAMENG_MAX_UNPAID_ORDERS = 100  # only the rate is under test here
    settings.KAMENG_RATE_ORDERS = "10/600"
    product = stocked_product(keys=20)
    client = api_client(UserFactory())
    for _ in range(10):
        assert _order(client, product.sku).status_code == 201

    refused = _order(client, product.sku)

    assert refused.status_code == 429 and refused.json()["error"]["code"] == "too_many_orders"
    assert 0 < int(refused["Retry-After"]) <= 600
    assert _order(api_client(UserFactory()), product.sku).status_code == 201  # someone else is not held back
    clock.advance(seconds=int(refused["Retry-After"]))
    assert _order(client, product.sku).status_code == 201


@pytest.mark.django_db
def test_an_idempotency_key_refused_for_a_limit_is_not_burnt():
    product = stocked_product(keys=10)
    buyer = UserFactory()
    client = api_client(buyer)
    held = [_order(client, product.sku).json()["order_no"] for _ in range(3)]
    assert _order(client, product.sku, **{"Idempotency-Key": "buy-4"}).status_code == 429

    pay_in_sandbox(Order.objects.get(order_no=held[0]))
    retried = _order(client, product.sku, **{"Idempotency-Key": "buy-4"})

    assert retried.status_code == 201  # the same request, sent again once there is room, is done


@pytest.mark.django_db
def test_the_checkout_page_shows_the_limit_message_in_the_pages_language():
    product = stocked_product(keys=10)
    buyer = UserFactory()
    for _ in range(3):
        place_order(buyer, product)
    browser = Client()
    browser.force_login(buyer)

    zh = browser.post("/orders/checkout/", {"sku": product.sku, "quantity": "1", "channel": "alipay"})
    en = browser.post(
        "/orders/checkout/",
        {"sku": product.sku, "quantity": "1", "channel": "alipay"},
        headers={"Accept-Language": "en"},
    )

    assert zh.status_code == 429 and "待支付订单" in zh.content.decode() and zh["Retry-After"]
    assert en.status_code == 429 and "unpaid orders" in en.content.decode()
    assert Order.objects.count() == 3


@pytest.mark.django_db
def test_a_vip_member_is_limited_like_anyone_else():
    member = UserFactory()
    join_vip(member, PlanFactory())
    product = stocked_product(keys=10)
    for _ in range(3):
        place_order(member, product)

    with pytest.raises(DomainError) as refused:
        place_order(member, product)

    assert refused.value.code == "too_many_unpaid_orders"


def _in_thread(fn):
    def run(*args):
        try:
            return fn(*args)
        finally:
            connection.close()

    return run


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_checkouts_by_one_member_never_pass_the_unpaid_orders_limit(monkeypatch):
    """Six checkouts at once by one member: exactly three orders. The time between counting the unpaid orders and
    writing the new one is stretched (a slow price computation), so without the member's lock all six would pass. The
    order rate's counter row would queue them too, but only within one window (two checkouts either side of a
    window's end do not meet on it): the quota must hold by itself, so the rate is left out here."""
    product = stocked_product(keys=20)
    buyer = UserFactory()
    price = pricing.vip_unit_price
    monkeypatch.setattr(ratelimit, "hit", lambda **_: None)

    def slow_price(*args):
        time.sleep(0.3)
        return price(*args)

    monkeypatch.setattr(pricing, "vip_unit_price", slow_price)
    start = threading.Event()

    @_in_thread
    def checkout(_):
        start.wait(timeout=10)
        try:
            return orders.create_order(user=buyer, sku=product.sku, quantity=1, channel="alipay").order_no
        except DomainError as exc:
            return exc.code

    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = [pool.submit(checkout, n) for n in range(6)]
        start.set()
        results = sorted(str(f.result()) for f in futures)

    assert results.count("too_many_unpaid_orders") == 3, results
    assert Order.objects.filter(user=buyer).count() == 3
    assert CardKey.objects.filter(status=CardKey.Status.RESERVED).count() == 3


# --- item 11: rejected payment notifications are bounded and counted ----------------------------------------------


def _junk(size: int = 60_000, tag: str = "A") -> bytes:
    return urlencode(
        {"notify_id": "forged", "out_trade_no": "K1", "sign": "x", "padding": tag * size}
    ).encode()


def _notify(body: bytes, channel: str = "alipay"):
    return Client().post(
        f"/payments/notify/{channel}/", body, content_type="application/x-www-form-urlencoded"
    )


@pytest.mark.django_db
def test_the_same_rejected_notification_fifty_times_is_one_bounded_row_counted_fifty_times():
    body = _junk()
    for _ in range(50):
        assert _notify(body).status_code == 400

    logged = NotificationLog.objects.get()

    assert (logged.accepted, logged.repeats) == (False, 50)
    assert len(logged.body.encode()) <= 2048 and body.decode().startswith(logged.body)
    assert logged.body_sha256 == hashlib.sha256(body).hexdigest() and logged.body_bytes == len(body)
    assert logged.last_received_at >= logged.received_at


@pytest.mark.django_db
def test_different_junk_bodies_each_keep_only_an_excerpt():
    for n in range(5):
        _notify(_junk(tag=str(n)))

    rows = NotificationLog.objects.all()

    assert rows.count() == 5
    assert all(len(row.body.encode()) <= 2048 and row.body_bytes > 60_000 for row in rows)


@pytest.mark.django_db
def test_an_accepted_notification_keeps_its_whole_body_for_disputes():
    order = place_order(UserFactory(), stocked_product())
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
        "body": "备注" * 3000,  # a long but genuine field
    }
    signed = alipay_protocol.sign_notification(params, keys.sandbox_keys()["alipay_private"])
    body = urlencode(signed).encode()

    assert _notify(body).content == b"success"

    logged = NotificationLog.objects.get(accepted=True)
    assert logged.body.encode() == body and logged.body_sha256 == hashlib.sha256(body).hexdigest()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_rejection_arriving_in_parallel_is_counted_not_duplicated():
    body = _junk(size=10_000)
    start = threading.Event()

    @_in_thread
    def deliver(_):
        start.wait(timeout=10)
        return _notify(body).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(deliver, n) for n in range(16)]
        start.set()
        assert {f.result() for f in futures} == {400}

    logged = NotificationLog.objects.get()
    assert logged.repeats == 16


# --- item 11: tickets and screenshots have a rate and a quota --------------------------------------------------------


def _file(client: Client, reason: str = "订单没收到", **headers):
    return post_json(client, "/api/v1/support/tickets", {"category": "other", "reason": reason}, **headers)


def _stored_files() -> list[Path]:
    root = Path(django_settings.MEDIA_ROOT)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _member_page(user) -> Client:
    browser = Client()
    browser.force_login(user)
    return browser


def _png(size=(64, 64), noise: bool = False) -> SimpleUploadedFile:
    image = (
        Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)) if noise else Image.new("RGB", size)
    )
    out = io.BytesIO()
    image.save(out, "PNG")
    return SimpleUploadedFile("shot.png", out.getvalue(), content_type="image/png")


@pytest.mark.django_db
def test_a_sixth_ticket_in_ten_minutes_is_refused_429_with_retry_after(settings):
    client = api_client(UserFactory())
    for n in range(5):
        assert _file(client, reason=f"问题 {n}").status_code == 201

    refused = _file(client)

    assert refused.status_code == 429 and refused.json()["error"]["code"] == "too_many_tickets"
    assert "工单" in refused.json()["error"]["message"] and 0 < int(refused["Retry-After"]) <= 600
    assert Ticket.objects.count() == 5
    clock.advance(seconds=int(refused["Retry-After"]))
    assert _file(client).status_code == 201


@pytest.mark.django_db
def test_the_ticket_rate_refusal_is_in_english_by_accept_language():
    client = api_client(UserFactory())
    for _ in range(5):
        _file(client)

    refused = _file(client, **{"Accept-Language": "en"})

    assert refused.status_code == 429 and "tickets" in refused.json()["error"]["message"]


@pytest.mark.django_db
def test_a_member_keeps_at_most_ten_open_tickets(settings):
    settings.KAMENG_RATE_TICKETS = "100/600"  # only the quota is under test here
    member = UserFactory()
    client = api_client(member)
    numbers = [_file(client).json()["ticket_no"] for _ in range(10)]

    refused = _file(client)

    assert refused.status_code == 409 and refused.json()["error"]["code"] == "too_many_open_tickets"
    assert Ticket.objects.filter(user=member).count() == 10
    support_services.reject(agent=UserFactory(role=Role.SUPPORT), ticket_no=numbers[0], reason="重复的工单")
    assert _file(client).status_code == 201


@pytest.mark.django_db
def test_the_ticket_form_refused_for_a_limit_shows_the_message_and_keeps_what_was_written():
    member = UserFactory()
    order = place_order(member, stocked_product())
    for _ in range(5):
        support_services.file_ticket(user=member, category="other", reason="x")
    browser = _member_page(member)

    page = browser.post(
        "/support/tickets/new/",
        {
            "category": "refund",
            "order_no": order.order_no,
            "reason": "第六个工单的原文",
            "screenshot": _png(),
        },
    )

    assert page.status_code == 429 and page["Retry-After"]
    text = page.content.decode()
    assert 'id="form-problem"' in text and "提交工单太频繁" in text
    assert "第六个工单的原文</textarea>" in text and f'value="{order.order_no}"' in text
    assert '<option value="refund" selected>' in text and "截图需要重新选择" in text
    assert Ticket.objects.count() == 5


@pytest.mark.django_db
def test_replies_in_a_ticket_are_rate_limited_and_the_page_keeps_the_reply(settings):
    settings.KAMENG_RATE_TICKET_REPLIES = "3/600"
    member = UserFactory()
    ticket = support_services.file_ticket(user=member, category="other", reason="x")
    browser = _member_page(member)
    for n in range(3):
        assert browser.post(f"/support/tickets/{ticket.ticket_no}/", {"body": f"补充 {n}"}).status_code == 302

    page = browser.post(
        f"/support/tickets/{ticket.ticket_no}/", {"body": "第四条补充"}, headers={"Accept-Language": "en"}
    )

    assert page.status_code == 429 and "messages" in page.content.decode()
    assert "第四条补充</textarea>" in page.content.decode()
    assert ticket.messages.count() == 4  # the reason and three replies
    agent = UserFactory(role=Role.SUPPORT)
    support_services.reply(user=agent, ticket_no=ticket.ticket_no, body="客服不受限制")


@pytest.mark.django_db
def test_complaints_are_rate_limited():
    member = UserFactory()
    ticket = support_services.file_ticket(user=member, category="other", reason="x")
    for n in range(5):
        support_services.file_complaint(user=member, about="ticket", about_ref=ticket.ticket_no, text=f"{n}")

    with pytest.raises(DomainError) as refused:
        support_services.file_complaint(user=member, about="ticket", about_ref=ticket.ticket_no, text="6")

    assert refused.value.code == "too_many_complaints" and refused.value.status == 429


@pytest.mark.django_db
def test_screenshots_past_the_members_30_day_quota_are_refused_and_nothing_is_stored(settings):
    settings.KAMENG_MEMBER_ATTACHMENT_BYTES = 150 * 1024  # one noisy 200×200 picture is about 120 KB
    settings.KAMENG_RATE_TICKET_REPLIES = "100/600"
    member = UserFactory()
    ticket = support_services.file_ticket(
        user=member, category="other", reason="x", screenshot=_png((200, 200), noise=True)
    )
    browser = _member_page(member)
    before = _stored_files()

    page = browser.post(
        f"/support/tickets/{ticket.ticket_no}/",
        {"body": "再来一张", "attachment": _png((200, 200), noise=True)},
    )

    assert page.status_code == 429 and "30 天内最多上传" in page.content.decode()
    assert int(page["Retry-After"]) > 29 * 86400  # when the first screenshot leaves the 30 days
    assert _stored_files() == before and ticket.messages.count() == 1
    assert browser.post(f"/support/tickets/{ticket.ticket_no}/", {"body": "不带截图可以"}).status_code == 302
    clock.advance(seconds=int(page["Retry-After"]))
    again = browser.post(
        f"/support/tickets/{ticket.ticket_no}/",
        {"body": "一个月后", "attachment": _png((200, 200), noise=True)},
    )
    assert again.status_code == 302


def _png_declaring(width: int, height: int) -> bytes:
    """A valid PNG of a black bitonal picture of any size: each row is a filter byte and zero bits, and the zlib
    stream of all those zeros is tiny (a 144-megapixel picture is about 18 KB)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" * (1 + (width + 7) // 8)
    packer = zlib.compressobj(9)
    pixels = b"".join(packer.compress(row * 1000) for _ in range(height // 1000))
    pixels += packer.compress(row * (height % 1000)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


@pytest.mark.django_db
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # Pillow's own warning past 89 MP
def test_a_144_megapixel_png_is_refused_before_it_is_decoded():
    upload = SimpleUploadedFile("huge.png", _png_declaring(12_000, 12_000), content_type="image/png")
    assert upload.size < 100_000
    before = _stored_files()

    page = _member_page(UserFactory()).post(
        "/support/tickets/new/", {"category": "other", "reason": "看图", "screenshot": upload}
    )

    assert page.status_code == 422 and "4000 万像素" in page.content.decode()
    assert not Ticket.objects.exists() and _stored_files() == before


@pytest.mark.django_db
def test_a_png_bomb_declaring_ten_gigapixels_is_refused_at_once():
    bomb = SimpleUploadedFile("bomb.png", _png_declaring(100_000, 100), content_type="image/png")
    bomb_bytes = bytearray(bomb.read())
    bomb_bytes[16:24] = struct.pack(">II", 100_000, 100_000)  # the header now claims 10^10 pixels
    bomb_bytes[29:33] = struct.pack(">I", zlib.crc32(bytes(bomb_bytes[12:29])))
    upload = SimpleUploadedFile("bomb.png", bytes(bomb_bytes), content_type="image/png")
    started = time.monotonic()

    with pytest.raises(DomainError) as refused:
        support_services.file_ticket(user=UserFactory(), category="other", reason="x", screenshot=upload)

    assert refused.value.code == "attachment_too_many_pixels"
    assert time.monotonic() - started < 2
    assert not TicketMessage.objects.exists()


def _jpeg_with_gps() -> bytes:
    """A photo as a phone writes it: EXIF with the camera, a GPS position and the orientation (rotate 90°)."""
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0112] = 6  # Orientation: the picture must be turned 90° clockwise to be upright
    exif[0x8825] = {1: "N", 2: (39.0, 54.0, 27.0), 3: "E", 4: (116.0, 23.0, 30.0)}  # GPS: Beijing
    out = io.BytesIO()
    Image.new("RGB", (120, 80), (200, 30, 30)).save(out, "JPEG", exif=exif, quality=95)
    return out.getvalue()


@pytest.mark.django_db
def test_an_uploaded_photo_is_stored_without_its_exif_gps_and_upright():
    original = _jpeg_with_gps()
    with Image.open(io.BytesIO(original)) as sent:
        assert sent.getexif().get_ifd(0x8825)  # the upload really carries a position
    member = UserFactory()

    ticket = support_services.file_ticket(
        user=member,
        category="other",
        reason="见截图",
        screenshot=SimpleUploadedFile("photo.jpg", original, content_type="image/jpeg"),
    )

    message = ticket.messages.get()
    with message.attachment.open("rb") as stored_file:
        stored = stored_file.read()
    with Image.open(io.BytesIO(stored)) as kept:
        assert kept.format == "JPEG" and kept.size == (80, 120)  # turned upright
        assert not kept.getexif() and "exif" not in kept.info
    assert b"PhoneMaker" not in stored and b"Exif" not in stored
    assert message.original_sha256 == hashlib.sha256(original).hexdigest()
    assert message.attachment_sha256 == hashlib.sha256(stored).hexdigest()
    served = _member_page(member).get(f"/support/attachments/{message.pk}/")
    assert b"".join(served.streaming_content) == stored


@pytest.mark.django_db
def test_a_pngs_text_chunks_and_exif_are_not_kept():
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "home address: 1 Secret Road")
    info.add_itxt("Author", "张三")
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (31.0, 13.0, 0.0)}
    out = io.BytesIO()
    Image.new("RGBA", (50, 40), (0, 0, 255, 128)).save(out, "PNG", pnginfo=info, exif=exif)

    ticket = support_services.file_ticket(
        user=UserFactory(),
        category="other",
        reason="x",
        screenshot=SimpleUploadedFile("s.png", out.getvalue(), content_type="image/png"),
    )

    with ticket.messages.get().attachment.open("rb") as stored_file:
        stored = stored_file.read()
    assert b"Secret Road" not in stored and "张三".encode() not in stored and b"eXIf" not in stored
    with Image.open(io.BytesIO(stored)) as kept:
        assert kept.mode == "RGBA" and kept.getpixel((0, 0)) == (0, 0, 255, 128)


@pytest.mark.django_db
def test_the_evidence_bundle_lists_every_attachment_with_both_hashes():
    member = UserFactory()
    original = _jpeg_with_gps()
    ticket = support_services.file_ticket(
        user=member,
        category="other",
        reason="x",
        screenshot=SimpleUploadedFile("photo.jpg", original, content_type="image/jpeg"),
    )
    support_services.reply(user=member, ticket_no=ticket.ticket_no, body="再补一张", attachment=_png())
    support_services.reply(user=member, ticket_no=ticket.ticket_no, body="没有图")

    bundle = _member_page(member).get("/support/evidence.json").json()["bundle"]

    messages = bundle["tickets"][0]["messages"]
    attachments = [m["attachment"] for m in messages]
    assert attachments[2] is None and all(attachments[:2])
    assert attachments[0]["original_sha256"] == hashlib.sha256(original).hexdigest()
    assert attachments[0]["original_bytes"] == len(original) and attachments[0]["type"] == "image/jpeg"
    for message, listed in zip(
        ticket.messages.order_by("created_at", "id")[:2], attachments[:2], strict=True
    ):
        with message.attachment.open("rb") as stored:
            assert listed["stored_sha256"] == hashlib.sha256(stored.read()).hexdigest()
