from dataclasses import dataclass

from django.db.models import QuerySet

from kameng.core.errors import DomainError
from kameng.core.roles import Role
from kameng.inventory import services as inventory
from kameng.orders.error_codes import OrderErrorCode
from kameng.orders.models import Order


def can_see_all_orders(user) -> bool:
    return user.is_authenticated and user.has_role(Role.OPERATOR, Role.SUPPORT)


def get_order_for_viewer(*, order_no: str, viewer) -> Order:
    """The buyer's own order; someone else's order is indistinguishable from one that does not exist (404)."""
    queryset = Order.objects.select_related("product", "user")
    if not can_see_all_orders(viewer):
        queryset = queryset.filter(user_id=viewer.pk)
    order = queryset.filter(order_no=order_no).first()
    if order is None:
        raise DomainError(OrderErrorCode.UNKNOWN_ORDER)
    return order


def orders_of(user) -> QuerySet[Order]:
    return Order.objects.filter(user=user).select_related("product").order_by("-created_at")


def fulfilment_queue() -> QuerySet[Order]:
    """Manual orders waiting for an operator: VIP first (优先发货), then first paid, first served."""
    return Order.objects.filter(status=Order.Status.FULFILLING).order_by("-priority", "paid_at", "id")


@dataclass(frozen=True)
class OrderView:
    order: Order
    secrets: list[str]


def may_reveal_secrets(*, order: Order, viewer) -> bool:
    """Card secrets: the buyer, or an operator; support staff see the order but not its keys."""
    return viewer.pk == order.user_id or viewer.has_role(Role.OPERATOR)


def order_view(*, order_no: str, viewer, source: str) -> OrderView:
    order = get_order_for_viewer(order_no=order_no, viewer=viewer)
    secrets: list[str] = []
    if order.status == Order.Status.DELIVERED and may_reveal_secrets(order=order, viewer=viewer):
        secrets = inventory.reveal_secrets(order=order, viewer=viewer, source=source)
    return OrderView(order=order, secrets=secrets)
