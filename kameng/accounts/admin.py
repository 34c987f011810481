from django.contrib import admin

from kameng.accounts.models import ApiToken, User
from kameng.core.admin_roles import ReadOnlyRoleAdmin, RoleAdmin
from kameng.core.roles import Role


@admin.register(User)
class UserAdmin(RoleAdmin):
    view_roles = (Role.SUPPORT, Role.FINANCE, Role.OPERATOR)
    change_roles = (Role.ADMIN,)  # only an admin hands out roles
    allow_add = False  # accounts are created by registration or `manage.py create_staff`
    list_display = ["username", "email", "role", "is_active", "date_joined", "last_login"]
    list_filter = ["role", "is_active"]
    search_fields = ["username", "email"]
    fields = ["username", "email", "role", "is_active", "date_joined", "last_login"]
    readonly_fields = ["username", "date_joined", "last_login"]


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyRoleAdmin):
    view_roles = (Role.ADMIN,)
    list_display = ["prefix", "user", "created_at", "last_used_at", "expires_at", "revoked_at"]
