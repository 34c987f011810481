"""The project's own configuration of Django's apps."""

from django.contrib.admin.apps import AdminConfig as DjangoAdminConfig


class AdminConfig(DjangoAdminConfig):
    """Django's admin, with the shop's site as `admin.site` (kameng.accounts.admin_site: its password change goes
    through the login throttle)."""

    default_site = "kameng.accounts.admin_site.KamengAdminSite"
