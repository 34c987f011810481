from django.db import models
from django.utils.translation import gettext_lazy as _


class Article(models.Model):
    slug = models.SlugField(max_length=64, unique=True)
    title = models.CharField(max_length=120)
    body = models.TextField()
    keywords = models.CharField(max_length=300, blank=True, help_text=_("同义词与常见说法,空格或逗号分隔"))
    is_published = models.BooleanField(default=True)
    sort_order = models.PositiveSmallIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sort_order", "id"]
        verbose_name = _("帮助文章")
        verbose_name_plural = _("帮助文章")

    def __str__(self) -> str:
        return self.title


class ActionEntry(models.Model):
    """A thing to do, not to read: 退订会员, 关闭自动续费, 申请退款, 提交工单. Pinned first for its intents."""

    code = models.SlugField(max_length=32, unique=True)
    title = models.CharField(max_length=60)
    url = models.CharField(max_length=200)
    keywords = models.CharField(max_length=300, blank=True)
    pinned_for = models.CharField(
        max_length=100, blank=True, help_text=_("对这些意图置顶(逗号分隔,如 cancel、refund、ticket)")
    )
    sort_order = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["sort_order", "id"]
        verbose_name = _("操作入口")
        verbose_name_plural = _("操作入口")

    def __str__(self) -> str:
        return self.title
