from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_safe

from kameng.catalog import channels, selectors
from kameng.catalog.models import Category
from kameng.core.views import shows_refusals


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
@shows_refusals(back="catalog:home", back_label=_("返回首页"))
def product(request, sku: str):
    row = selectors.get_product(sku=sku)
    return render(request, "catalog/product.html", {"row": row, "channels": sorted(channels.offered())})
