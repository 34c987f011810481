from dataclasses import dataclass

from kameng.catalog import pricing, stock
from kameng.catalog.error_codes import CatalogErrorCode
from kameng.catalog.models import Category, Delivery, Product
from kameng.core.errors import DomainError


@dataclass(frozen=True)
class ProductRow:
    product: Product
    stock: int | None  # None: unlimited
    vip_price_fen: int


def vip_price_fen(product: Product, discount_percent: int | None = None) -> int:
    """The VIP price shown beside the price: with the given discount, or the most generous active plan's."""
    if discount_percent is None:
        discount_percent = pricing.member_perks().best_discount_percent()
    return pricing.vip_unit_price(product.price_fen, discount_percent)


def _row(product: Product, discount_percent: int) -> ProductRow:
    left = product.available_keys if product.delivery == Delivery.AUTO else product.manual_stock
    return ProductRow(product=product, stock=left, vip_price_fen=vip_price_fen(product, discount_percent))


def _discount() -> int:
    return pricing.member_perks().best_discount_percent()


def list_products(*, category: Category | None = None) -> list[ProductRow]:
    # Ordered explicitly: the stock count's GROUP BY makes Django drop Meta.ordering, and the shelf then came out in
    # whatever order the database chose instead of the operator's.
    queryset = (
        Product.objects.filter(is_active=True, category__is_active=True)
        .select_related("category")
        .order_by("sort_order", "id")
    )
    if category is not None:
        queryset = queryset.filter(category=category)
    discount = _discount()
    return [_row(p, discount) for p in stock.with_available_keys(queryset)]


def get_product(*, sku: str) -> ProductRow:
    product = stock.with_available_keys(
        Product.objects.filter(sku=sku, is_active=True).select_related("category")
    ).first()
    if product is None:
        raise DomainError(CatalogErrorCode.UNKNOWN_SKU, sku=sku)
    return _row(product, _discount())


def list_categories() -> list[Category]:
    return list(Category.objects.filter(is_active=True))
