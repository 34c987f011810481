"""Card keys for sale per product: inventory keeps the keys, catalog shows how many are left.

Inventory sits above catalog (a card key belongs to a product), so it fills this hook in its AppConfig.ready() and
catalog's selectors ask here rather than importing inventory (docs/architecture.md, Layers).
"""

from collections.abc import Callable

from django.db.models import QuerySet

from kameng.catalog.models import Product

# Returns the queryset with `available_keys` (an int) annotated on each product.
CountKeys = Callable[[QuerySet[Product]], QuerySet[Product]]
_count_keys: list[CountKeys] = []


def register(count_keys: CountKeys) -> None:
    _count_keys[:] = [count_keys]


def with_available_keys(queryset: QuerySet[Product]) -> QuerySet[Product]:
    if not _count_keys:
        raise LookupError("no card-key counter registered: the inventory app's ready() registers it")
    return _count_keys[0](queryset)
