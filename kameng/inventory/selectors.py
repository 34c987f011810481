"""Reads about card-key stock."""

from django.db.models import QuerySet

from kameng.catalog.models import Delivery, Product


def products_taking_card_keys() -> QuerySet[Product]:
    """Products delivered automatically from stock, active or not yet (stock may be loaded before a launch)."""
    return Product.objects.filter(delivery=Delivery.AUTO).order_by("sku")
