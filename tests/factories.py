"""Factories for tests across apps. Goods come with stock through the real import service."""

import functools
import json
import math
import re
import secrets
from datetime import datetime, timedelta

import factory
import pytest
from django.contrib.auth.hashers import make_password
from django.test import Client

from kameng.accounts import services as accounts
from kameng.accounts.models import User
from kameng.catalog.models import Category, Delivery, Product
from kameng.core.errors import DomainError, ErrorCode
from kameng.core.roles import Role
from kameng.inventory import services as inventory
from kameng.inventory.models import ImportBatch
from kameng.orders import services as orders
from kameng.sandbox import services as sandbox

PASSWORD = "Correct-Horse-42"


@functools.cache
def password_hash() -> str:
    """PASSWORD hashed once per test process with the real (Argon2) hasher. Argon2 is slow on purpose (~0.2 s a
    hash here); every factory user shares this hash, so they still log in with PASSWORD but cost nothing to make."""
    return make_password(PASSWORD)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"buyer{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    role = Role.MEMBER
    password = factory.LazyFunction(password_hash)


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"分类{n}")
    slug = factory.Sequence(lambda n: f"cat-{n}")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    sku = factory.Sequence(lambda n: f"sku-{n}")
    category = factory.SubFactory(CategoryFactory)
    name = factory.Sequence(lambda n: f"点卡 {n}")
    price_fen = 1999
    delivery = Delivery.AUTO


def stocked_product(keys: int = 5, **fields) -> Product:
    product = ProductFactory(**fields)
    if keys:
        add_keys(product, keys)
    return product


def add_keys(product: Product, count: int) -> list[str]:
    secrets_ = [f"KEY-{secrets.token_hex(6).upper()}" for _ in range(count)]
    inventory.import_card_keys(product=product, text="\n".join(secrets_), source=ImportBatch.Source.CLI)
    return secrets_


def place_order(user: User, product: Product, *, quantity: int = 1, channel: str = "alipay"):
    return orders.create_order(user=user, sku=product.sku, quantity=quantity, channel=channel)


def open_cashier(order) -> None:
    """The buyer follows the pay link to the channel's cashier (which creates the trade at the channel)."""
    client = Client()
    to_channel = client.get(f"/orders/{order.order_no}/pay/")
    assert to_channel.status_code == 302, to_channel.content
    assert client.get(to_channel["Location"]).status_code == 200


def pay_in_sandbox(order) -> None:
    """The buyer pays at the sandbox channel; its signed notification is then delivered to the shop."""
    response = Client().post(f"/sandbox/pay/{order.order_no}")
    assert response.status_code == 200, response.content
    sandbox.deliver_due_notifications()


def api_client(user: User) -> Client:
    return Client(headers={"Authorization": f"Bearer {accounts.issue_token(user=user)}"})


def post_json(client: Client, path: str, body, **headers):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post(path, data, content_type="application/json", headers=headers)


# --- membership ---------------------------------------------------------------------------------------------------


class PlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "membership.Plan"

    code = factory.Sequence(lambda n: f"plan-{n}")
    name = factory.Sequence(lambda n: f"月卡{n}")
    period = "month"
    price_fen = 3000
    discount_percent = 10


def join_vip(user: User, plan, *, channel: str = "alipay", auto_renew: bool = False):
    """Subscribes and completes the channel side as the member would: pays, or signs the agreement (whose first
    period is then charged through it). Returns the membership, reloaded."""
    from kameng.membership import services as membership
    from kameng.membership.models import Membership
    from kameng.payments.selectors import pay_redirect_url

    made = membership.subscribe(
        user=user,
        plan_code=plan.code,
        channel=channel,
        auto_renew=auto_renew,
        consent=membership.ConsentContext(given=auto_renew, ip="127.0.0.1", user_agent="pytest"),
    )
    if auto_renew:
        complete_at_channel(
            pay_redirect_url(order=made.order, client_ip="127.0.0.1"), member_ref=str(user.pk)
        )
        settle()
    else:
        pay_in_sandbox(made.order)
    return Membership.objects.get(pk=made.membership.pk)


def complete_at_channel(sign_url: str, *, member_ref: str = "") -> None:
    """The member follows the auto-renew link at the sandbox channel: signs the agreement (WeChat, whose first
    period is then charged through it), or pays the first order and signs in one step (Alipay 支付并签约:
    alipay.trade.wap.pay with agreement_sign_params, which the sandbox's cashier plays). The notifications follow
    through the sandbox as usual. WeChat learns who signed from the signer's own account: `member_ref`."""
    from urllib.parse import parse_qsl, urlsplit

    from kameng.sandbox import agreements

    params = dict(parse_qsl(urlsplit(sign_url).query, keep_blank_values=True))
    if params.get("method") in ("alipay.trade.wap.pay", "alipay.trade.page.pay"):
        sandbox.pay(trade=sandbox.trade_from_pay_url(sign_url))
        return
    agreements.sign_agreement(agreement=agreements.agreement_from_sign_url(sign_url), member_ref=member_ref)


def settle() -> None:
    """Runs every sweep until nothing is left to do now (notifications delivered, outbox drained)."""
    from kameng.core import sweeps

    for _ in range(10):
        if not any(sweeps.run_due_sweeps().values()):
            return


# Beat runs the sweeps every 10 seconds in production (CELERY_BEAT_SCHEDULE): work due at a moment is done by the
# first run after it, so the play stops once for everything due within the same 10 seconds.
SWEEP_EVERY = timedelta(seconds=10)


def play_until(moment: datetime) -> None:
    """Moves the test clock to `moment`, stopping at every moment a sweep has work due on the way (a reminder, a
    charge or its retry, an expiry, a lease running out, an SLA deadline) and settling there: what beat's sweeps
    would do, without running them on the hours when nothing is due."""
    from kameng.core import clock

    settle()
    while play_next_due(not_after=moment):
        pass
    _advance_to(max(moment, clock.now()))
    settle()


def play_next_due(*, not_after: datetime | None = None) -> bool:
    """Moves the clock to the first sweep run after the next due work and settles; False (clock unmoved) if no work
    is due before `not_after`. Work still due after the sweeps ran (waiting on something else) is retried at the
    next run, as beat would."""
    from kameng.core import clock, sweeps

    due = sweeps.next_due_at()
    if due is None or (not_after is not None and due > not_after):
        return False
    stop = max(due, clock.now()) + SWEEP_EVERY
    if not_after is not None:
        stop = min(stop, not_after)
    if stop <= clock.now():
        return False  # already at not_after: the caller's last settle runs what is still due
    _advance_to(stop)
    settle()
    return True


def play_for(**duration: float) -> None:
    """`play_for(days=29)`: that much time passes, every due moment on the way played."""
    from kameng.core import clock

    play_until(clock.now() + timedelta(**duration))


def _advance_to(moment: datetime) -> None:
    from kameng.core import clock

    # Whole seconds, rounded up: the clock's offset is in seconds and the due moment must have been reached.
    clock.advance(seconds=max(0, math.ceil((moment - clock.now()).total_seconds())))


def advance_days(days: float) -> None:
    from kameng.core import clock

    clock.advance(seconds=int(days * 86400))


def refusal(code: ErrorCode):
    """pytest.raises for a DomainError of exactly this code (its str() starts with the code)."""
    return pytest.raises(DomainError, match=f"^{re.escape(code.value)}:")


def alipay_precreate_in_sandbox(monkeypatch, settings) -> list[str]:
    """The operator's Alipay account has 当面付 (KAMENG_ALIPAY_PRODUCTS): the sandbox's gateway answers
    alipay.trade.precreate as Alipay does. Returns the methods of the Alipay calls the shop sends from now on (a
    spy: every call still goes to the sandbox)."""
    from urllib.parse import parse_qsl

    from kameng.payments.channels import alipay as alipay_adapter

    settings.KAMENG_ALIPAY_PRODUCTS = ("wap", "precreate")
    real, sent = alipay_adapter.post, []

    def gateway(url, *, body, **kwargs):
        sent.append(dict(parse_qsl(body.decode(), keep_blank_values=True)).get("method", ""))
        return real(url, body=body, **kwargs)

    monkeypatch.setattr(alipay_adapter, "post", gateway)
    return sent


def ready_for_renewal(membership) -> datetime:
    """As the sweeps would have left a renewal by its first attempt (docs/rules.md#renewal-schedule): reminded 7
    days before C, the channel told on C-4. Returns the first attempt's moment (C-2 at the charge time); the caller
    moves the clock there."""
    from kameng.membership import schedule
    from kameng.membership.models import Charge, Membership, Reminder

    coming = schedule.coming_cycle(membership)
    Reminder.objects.create(
        membership=membership,
        period_index=membership.period_index + 1,
        days_before=7,
        charge_at=coming.last_attempt_at,
        amount_fen=membership.price_fen,
        sent_at=coming.reminder_at(7),
    )
    Charge.objects.get_or_create(
        membership=membership,
        period_index=membership.period_index + 1,
        defaults={
            "amount_fen": membership.price_fen,
            "is_renewal": True,
            "created_at": coming.notice_at,
            "announced_at": coming.notice_at,
        },
    )
    Membership.objects.filter(pk=membership.pk).update(
        next_reminder_at=None, next_charge_at=coming.first_attempt_at
    )
    return coming.first_attempt_at
