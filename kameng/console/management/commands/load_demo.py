"""The demo shop: it needs every app's models, so it lives in console, the top layer (docs/architecture.md)."""

import secrets

from django.core.management.base import BaseCommand
from django.db import transaction

from kameng.accounts import services as accounts
from kameng.accounts.models import User
from kameng.catalog.models import Category, Delivery, Product
from kameng.core.audit import Source
from kameng.core.roles import Role
from kameng.helpcenter.services import ensure_default_entries
from kameng.inventory import services as inventory
from kameng.inventory.models import ImportBatch
from kameng.membership.models import Plan

CATEGORIES = [("game-cards", "游戏点卡"), ("recharge", "充值卡"), ("memberships", "会员兑换码")]
PRODUCTS = [
    ("steam-wallet-50", "game-cards", "Steam 钱包充值卡 ¥50", 4850, Delivery.AUTO, 40),
    ("netease-points-100", "game-cards", "网易一卡通 100 点", 9500, Delivery.AUTO, 40),
    ("qq-coins-30", "recharge", "Q 币 30 个", 2880, Delivery.AUTO, 60),
    ("jd-gift-card-100", "recharge", "京东 E 卡 ¥100", 9800, Delivery.AUTO, 25),
    ("video-vip-month", "memberships", "视频会员月卡兑换码", 1990, Delivery.AUTO, 30),
    ("game-topup-manual", "game-cards", "手游代充(人工发货)", 6800, Delivery.MANUAL, None),
]


def _random_key(prefix: str) -> str:
    return f"{prefix}-" + "-".join(secrets.token_hex(2).upper() for _ in range(4))


PLANS = [  # code, name, period, price in fen, VIP discount percent
    ("vip-month", "月卡", "month", 1500, 5),
    ("vip-quarter", "季卡", "quarter", 3900, 6),
    ("vip-year", "年卡", "year", 12800, 8),
    ("vip-lifetime", "永久", "lifetime", 29800, 8),
]


class Command(BaseCommand):
    help = "Load demo categories, products with card-key stock, and an operator account (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        categories = {}
        for order, (slug, name) in enumerate(CATEGORIES):
            categories[slug], _ = Category.objects.get_or_create(
                slug=slug, defaults={"name": name, "sort_order": order}
            )
        for order, (sku, cat, name, price, delivery, keys) in enumerate(PRODUCTS):
            product, created = Product.objects.get_or_create(
                sku=sku,
                defaults={
                    "category": categories[cat],
                    "name": name,
                    "price_fen": price,
                    "delivery": delivery,
                    "sort_order": order,
                    "description": f"{name},付款后立即发卡。",
                },
            )
            if created and keys:
                text = "\n".join(_random_key(sku.split("-")[0].upper()) for _ in range(keys))
                inventory.import_card_keys(product=product, text=text, source=ImportBatch.Source.CLI)
        for order, (code, name, period, price, discount) in enumerate(PLANS):
            Plan.objects.get_or_create(
                code=code,
                defaults={
                    "name": name,
                    "period": period,
                    "price_fen": price,
                    "discount_percent": discount,
                    "sort_order": order,
                    # 永久: non-refundable after the 48-hour window unless the operator sets a penalty.
                    "lifetime_penalty_percent": None,
                },
            )
        ensure_default_entries()
        if not User.objects.filter(username="operator").exists():
            password = secrets.token_urlsafe(12)
            accounts.register_user(
                username="operator",
                password=password,
                email="operator@example.com",
                role=Role.OPERATOR,
                source=Source.CLI,
            )
            self.stdout.write(self.style.WARNING(f"operator account: operator / {password}  (shown once)"))
        self.stdout.write(f"demo data ready: {Product.objects.count()} products")
