from django.contrib import admin

from kameng.catalog.models import Category, Product
from kameng.core.admin_roles import RoleAdmin


@admin.register(Category)
class CategoryAdmin(RoleAdmin):
    list_display = ["name", "slug", "sort_order", "is_active"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Product)
class ProductAdmin(RoleAdmin):
    list_display = ["name", "sku", "category", "price_fen", "delivery", "manual_stock", "is_active"]
    list_filter = ["category", "delivery", "is_active"]
    search_fields = ["name", "sku"]
