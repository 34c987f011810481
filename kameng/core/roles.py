"""Staff roles. They live in core because every app's admin (core.admin_roles) checks them; accounts stores them."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    MEMBER = "member", _("会员")
    SUPPORT = "support", _("客服")
    FINANCE = "finance", _("财务")
    OPERATOR = "operator", _("运营")
    ADMIN = "admin", _("管理员")
