"""Reads about card-key stock."""

from django.db.models import Count, Q, QuerySet

from kameng.catalog.models import Delivery, Product
from kameng.inventory.models import CardKey


def products_taking_card_keys() -> QuerySet[Product]:
    """Products delivered automatically from stock, active or not yet (stock may be loaded before a launch)."""
    return Product.objects.filter(delivery=Delivery.AUTO).order_by("sku")


def with_available_keys(queryset: QuerySet[Product]) -> QuerySet[Product]:
    """Each product with `available_keys`: its card keys still for sale (catalog.stock asks this)."""
    return queryset.annotate(
        available_keys=Count("card_keys", filter=Q(card_keys__status=CardKey.Status.AVAILABLE))
    )
