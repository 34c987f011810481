from typing import Annotated

from ninja import Field, Router, Schema
from pydantic import ConfigDict

from kameng.catalog import selectors

router = Router(tags=["products"])


PRODUCT_EXAMPLES = [
    {
        "sku": "qq-coins-30",
        "name": "Q 币 30 个",
        "category": "recharge",
        "price_fen": 2880,
        "vip_price_fen": 2650,
        "stock": 60,
        "delivery": "auto",
    },
    {
        "sku": "game-topup-manual",
        "name": "手游代充(人工发货)",
        "category": "game-cards",
        "price_fen": 6800,
        "vip_price_fen": 6256,
        "stock": None,
        "delivery": "manual",
    },
]


class ProductOut(Schema):
    model_config = ConfigDict(json_schema_extra={"examples": PRODUCT_EXAMPLES[:1]})

    sku: str
    name: str
    category: str
    price_fen: int
    vip_price_fen: int
    stock: int | None  # null: unlimited
    delivery: str


@router.get(
    "/products",
    response=Annotated[list[ProductOut], Field(examples=[PRODUCT_EXAMPLES])],
    auth=None,
)
def list_products(request):
    return [
        {
            "sku": row.product.sku,
            "name": row.product.name,
            "category": row.product.category.slug,
            "price_fen": row.product.price_fen,
            "vip_price_fen": row.vip_price_fen,
            "stock": row.stock,
            "delivery": row.product.delivery,
        }
        for row in selectors.list_products()
    ]
