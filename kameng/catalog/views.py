from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_safe

from kameng.catalog import selectors
from kameng.catalog.models import Category
from kameng.core.errors import NotFound
from kameng.payments import selectors as payments


@require_safe
def home(request, slug: str | None = None):
    category = get_object_or_404(Category, slug=slug, is_active=True) if slug else None
    return render(
        request,
        "catalog/home.html",
        {
            "categories": selectors.list_categories(),
            "current": category,
            "rows": selectors.list_products(category=category),
        },
    )


@require_safe
def product(request, sku: str):
    try:
        row = selectors.get_product(sku=sku)
    except NotFound:
        return render(request, "orders/error.html", {"message": "商品不存在"}, status=404)
    return render(request, "catalog/product.html", {"row": row, "channels": sorted(payments.channel_names())})
