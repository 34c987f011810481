from ninja import Router, Schema

from kameng.catalog import selectors

router = Router(tags=["products"])


class ProductOut(Schema):
    sku: str
    name: str
    category: str
    price_fen: int
    vip_price_fen: int
    stock: int | None  # null: unlimited
    delivery: str


@router.get("/products", response=list[ProductOut], auth=None)
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
