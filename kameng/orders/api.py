from typing import Annotated

from ninja import Field, Router, Schema
from pydantic import ConfigDict

from kameng.catalog.error_codes import CatalogErrorCode
from kameng.core.api import IDEMPOTENT, SIGNED_IN, WITH_BODY, WITH_PARAMS, answers, idempotent
from kameng.core.audit import Source
from kameng.core.clock import iso
from kameng.inventory.error_codes import InventoryErrorCode
from kameng.orders import selectors, services
from kameng.orders.error_codes import OrderErrorCode
from kameng.orders.models import Order
from kameng.orders.views import pay_link

router = Router(tags=["orders"])


class OrderIn(Schema):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"sku": "qq-coins-30", "quantity": 1, "channel": "alipay"}]}
    )

    sku: Annotated[str, Field(max_length=64)]
    quantity: Annotated[int, Field(strict=True)]
    channel: Annotated[str, Field(max_length=16)]


class OrderCreatedOut(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "order_no": "K20261125794681503281",
                    "status": "pending_payment",
                    "amount_fen": 2650,
                    "original_amount_fen": 2880,
                    "discount_fen": 230,
                    "pay_url": "https://shop.example.com/orders/K20261125794681503281/pay/",
                    "expires_at": "2026-11-25T20:08:45+08:00",
                }
            ]
        }
    )

    order_no: str
    status: str
    amount_fen: int
    original_amount_fen: int
    discount_fen: int
    pay_url: str
    expires_at: str


class CardOut(Schema):
    model_config = ConfigDict(json_schema_extra={"examples": [{"secret": "QQ-81E0-10E4-8EE3-7915"}]})

    secret: str


class OrderOut(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "order_no": "K20261125794681503281",
                    "status": "delivered",
                    "kind": "goods",
                    "subject": "QQ币 30 元 × 1",
                    "sku": "qq-coins-30",
                    "quantity": 1,
                    "channel": "alipay",
                    "amount_fen": 2650,
                    "original_amount_fen": 2880,
                    "discount_fen": 230,
                    "created_at": "2026-11-25T19:53:45+08:00",
                    "expires_at": "2026-11-25T20:08:45+08:00",
                    "paid_at": "2026-11-25T19:54:12+08:00",
                    "delivered_at": "2026-11-25T19:54:12+08:00",
                    "cards": [{"secret": "QQ-81E0-10E4-8EE3-7915"}],
                    "delivery_note": "",
                    "pay_url": None,
                    "closed_reason": "",
                }
            ]
        }
    )

    order_no: str
    status: str
    # Every kind of order reads through here: `goods` (card keys, `sku` set) or `membership` (a VIP period: `sku`
    # is "", `subject` names the plan, and there are never cards).
    kind: str
    subject: str
    sku: str
    quantity: int
    channel: str
    amount_fen: int
    original_amount_fen: int
    discount_fen: int
    created_at: str
    expires_at: str
    paid_at: str | None
    delivered_at: str | None
    cards: list[CardOut]
    delivery_note: str
    pay_url: str | None
    # Why an unpaid order was closed for good ("" if it was not): `vip_fee_refunded` = the member's immediate cancel
    # refunded the VIP fee this order's price relied on. `status` stays `expired` for such an order.
    closed_reason: str


def _created(order: Order) -> dict:
    return {
        "order_no": order.order_no,
        "status": order.status,
        "amount_fen": order.amount_fen,
        "original_amount_fen": order.original_amount_fen,
        "discount_fen": order.discount_fen,
        "pay_url": pay_link(order),
        "expires_at": iso(order.expires_at),
    }


@router.post(
    "/orders",
    **answers(
        {201: OrderCreatedOut},
        *SIGNED_IN,
        *WITH_BODY,
        *IDEMPOTENT,
        OrderErrorCode.UNKNOWN_CHANNEL,
        OrderErrorCode.BAD_QUANTITY,
        CatalogErrorCode.UNKNOWN_SKU,
        InventoryErrorCode.OUT_OF_STOCK,
        OrderErrorCode.TOO_MANY_ORDERS,
        OrderErrorCode.TOO_MANY_UNPAID_ORDERS,
        OrderErrorCode.TOO_MANY_RESERVED_KEYS,
    ),
)
def create_order(request, payload: OrderIn):
    """Places an order and reserves its card keys; pay within 15 minutes at `pay_url`. One member holds at most 3
    unpaid orders and 20 units of goods in them, and places at most 10 orders in 10 minutes (by default): past
    that, 429 with `Retry-After` (seconds), and an Idempotency-Key used for it stays free."""

    def action():
        order = services.create_order(
            user=request.user,
            sku=payload.sku,
            quantity=payload.quantity,
            channel=payload.channel,
            source=Source.API,
        )
        return 201, _created(order)

    return idempotent(request, action)


@router.get(
    "/orders/{order_no}", **answers({200: OrderOut}, *SIGNED_IN, *WITH_PARAMS, OrderErrorCode.UNKNOWN_ORDER)
)
def get_order(request, order_no: str):
    """The buyer's own order of any kind (goods, or a VIP period), with its card keys once paid (each reveal is
    audit-logged); a VIP period's order names its plan in `subject` and has no `sku` and no cards."""
    view = selectors.order_view(order_no=order_no, viewer=request.user, source=Source.API)
    order = view.order
    return {
        "order_no": order.order_no,
        "status": order.status,
        "kind": order.kind,
        "subject": order.subject,
        "sku": order.product.sku if order.product is not None else "",
        "quantity": order.quantity,
        "channel": order.channel,
        "amount_fen": order.amount_fen,
        "original_amount_fen": order.original_amount_fen,
        "discount_fen": order.discount_fen,
        "created_at": iso(order.created_at),
        "expires_at": iso(order.expires_at),
        "paid_at": iso(order.paid_at),
        "delivered_at": iso(order.delivered_at),
        "cards": [{"secret": s} for s in view.secrets],
        "delivery_note": order.fulfilment_note if order.status == Order.Status.DELIVERED else "",
        "pay_url": pay_link(order) if order.status == Order.Status.PENDING_PAYMENT else None,
        "closed_reason": order.closed_reason,
    }
