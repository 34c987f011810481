"""What a buyer sees on the shelf: which products and categories, at which price and VIP price, with how much stock."""

import pytest
from django.test import Client

from kameng.catalog import selectors
from kameng.catalog.error_codes import CatalogErrorCode
from kameng.catalog.models import Delivery
from kameng.core.errors import DomainError
from tests.factories import (
    CategoryFactory,
    PlanFactory,
    ProductFactory,
    UserFactory,
    place_order,
    stocked_product,
)

pytestmark = pytest.mark.django_db


def _skus(rows) -> list[str]:
    return [row.product.sku for row in rows]


def test_the_shelf_lists_active_products_of_active_categories_in_their_sort_order():
    shown = CategoryFactory()
    later = ProductFactory(category=shown, sku="later", sort_order=2)
    first = ProductFactory(category=shown, sku="first", sort_order=1)
    ProductFactory(category=shown, sku="withdrawn", is_active=False)
    ProductFactory(category=CategoryFactory(is_active=False), sku="in-a-hidden-category")

    assert _skus(selectors.list_products()) == [first.sku, later.sku]


def test_a_category_lists_only_its_own_products():
    cards, games = CategoryFactory(), CategoryFactory()
    card = ProductFactory(category=cards)
    ProductFactory(category=games)

    assert _skus(selectors.list_products(category=cards)) == [card.sku]


def test_only_active_categories_are_offered_in_their_sort_order():
    second = CategoryFactory(sort_order=2)
    first = CategoryFactory(sort_order=1)
    CategoryFactory(sort_order=0, is_active=False)

    assert selectors.list_categories() == [first, second]


def test_a_withdrawn_product_cannot_be_looked_up_and_its_page_is_404():
    product = ProductFactory(is_active=False)

    with pytest.raises(DomainError) as refused:
        selectors.get_product(sku=product.sku)
    assert refused.value.code == CatalogErrorCode.UNKNOWN_SKU
    assert Client().get(f"/p/{product.sku}/").status_code == 404


def test_a_hidden_categorys_page_is_404():
    hidden = CategoryFactory(is_active=False)
    assert Client().get(f"/c/{hidden.slug}/").status_code == 404


def test_the_vip_price_is_the_most_generous_active_plans_rounded_half_up():
    PlanFactory(discount_percent=10)
    PlanFactory(discount_percent=15)
    PlanFactory(discount_percent=30, is_active=False)
    PlanFactory(discount_percent=50, perk_vip_price=False)
    product = ProductFactory(price_fen=1999)

    row = selectors.get_product(sku=product.sku)

    assert row.vip_price_fen == 1699  # 1999 × 85 % = 1699.15


def test_without_a_plan_that_gives_vip_prices_the_vip_price_is_the_price():
    PlanFactory(discount_percent=20, is_active=False)
    product = ProductFactory(price_fen=1999)
    assert selectors.get_product(sku=product.sku).vip_price_fen == 1999


def test_stock_counts_the_keys_still_for_sale_not_those_held_for_an_unpaid_order():
    product = stocked_product(keys=5)
    place_order(UserFactory(), product, quantity=2)

    assert selectors.get_product(sku=product.sku).stock == 3


def test_manual_goods_show_their_counter_and_none_means_unlimited():
    counted = ProductFactory(delivery=Delivery.MANUAL, manual_stock=4)
    unlimited = ProductFactory(delivery=Delivery.MANUAL, manual_stock=None)

    assert selectors.get_product(sku=counted.sku).stock == 4
    assert selectors.get_product(sku=unlimited.sku).stock is None


def test_the_shelf_page_shows_price_vip_price_and_stock_in_yuan():
    PlanFactory(discount_percent=15)
    stocked_product(keys=3, price_fen=1999, name="Q 币 20 个")

    page = Client().get("/").content.decode()

    assert "Q 币 20 个" in page and "¥19.99" in page and "¥16.99" in page and "库存 3" in page


def test_a_sold_out_product_page_says_so_and_offers_no_buy_button():
    product = ProductFactory()  # automatic delivery, no keys imported
    client = Client()
    client.force_login(UserFactory())

    page = client.get(f"/p/{product.sku}/").content.decode()

    assert "已售罄" in page and "立即购买" not in page


def test_the_products_api_lists_what_the_shelf_shows():
    PlanFactory(discount_percent=10)
    product = stocked_product(keys=2, price_fen=3000)
    ProductFactory(is_active=False)

    answer = Client().get("/api/v1/products")

    assert answer.status_code == 200
    assert answer.json() == [
        {
            "sku": product.sku,
            "name": product.name,
            "category": product.category.slug,
            "price_fen": 3000,
            "vip_price_fen": 2700,
            "stock": 2,
            "delivery": "auto",
        }
    ]
