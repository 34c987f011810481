"""Card keys for sale per product: inventory keeps the keys, catalog shows how many are left.

Inventory sits above catalog (a card key belongs to a product), so it fills this hook in its AppConfig.ready() and
catalog's selectors ask here rather than importing inventory (docs/architecture.md, Layers).
"""

from collections.abc import Callable

from django.db.models import QuerySet

from kameng.catalog.models import Product
from kameng.core.hooks import Slot

# Returns the queryset with `available_keys` (an int) annotated on each product.
CountKeys = Callable[[QuerySet[Product]], QuerySet[Product]]
_count_keys: Slot[CountKeys] = Slot("the card-key counter", filled_by="the inventory app")


def register(count_keys: CountKeys) -> None:
    _count_keys.fill(count_keys)


def with_available_keys(queryset: QuerySet[Product]) -> QuerySet[Product]:
    return _count_keys.get()(queryset)
