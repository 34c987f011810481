from django.contrib import admin

from kameng.core.admin_roles import RoleAdmin
from kameng.helpcenter.models import ActionEntry, Article


@admin.register(Article)
class ArticleAdmin(RoleAdmin):
    list_display = ["title", "slug", "is_published", "sort_order", "updated_at"]
    search_fields = ["title", "body", "keywords"]


@admin.register(ActionEntry)
class ActionEntryAdmin(RoleAdmin):
    list_display = ["title", "code", "url", "pinned_for", "is_active", "sort_order"]
