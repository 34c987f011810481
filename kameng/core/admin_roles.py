"""Admin access by role: each ModelAdmin names which roles may view and which may change its model."""

from django.contrib import admin

from kameng.core.roles import Role


class RoleAdmin(admin.ModelAdmin):
    view_roles: tuple[str, ...] = (Role.OPERATOR,)
    change_roles: tuple[str, ...] = (Role.OPERATOR,)
    allow_add = True
    allow_delete = False  # history is kept; things are deactivated, not deleted

    def _has(self, request, roles) -> bool:
        user = request.user
        return user.is_authenticated and user.has_role(*roles)

    def has_module_permission(self, request) -> bool:
        return self._has(request, self.view_roles + self.change_roles)

    def has_view_permission(self, request, obj=None) -> bool:
        return self._has(request, self.view_roles + self.change_roles)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._has(request, self.change_roles)

    def has_add_permission(self, request) -> bool:
        return self.allow_add and self._has(request, self.change_roles)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self.allow_delete and self._has(request, self.change_roles)


class ReadOnlyRoleAdmin(RoleAdmin):
    """Records written only by services (audit, ledger, notifications): visible, never editable by hand."""

    allow_add = False
    change_roles = ()

    def has_change_permission(self, request, obj=None) -> bool:
        return False
