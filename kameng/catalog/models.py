from django.db import models
from django.utils.translation import gettext_lazy as _


class Category(models.Model):
    name = models.CharField(_("名称"), max_length=64)
    slug = models.SlugField(unique=True)
    sort_order = models.IntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["sort_order", "id"]
        verbose_name = _("分类")
        verbose_name_plural = _("分类")

    def __str__(self) -> str:
        return self.name


class Delivery(models.TextChoices):
    AUTO = "auto", _("自动发卡")
    MANUAL = "manual", _("人工发货")


class Product(models.Model):
    sku = models.SlugField(max_length=64, unique=True)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="products")
    name = models.CharField(_("名称"), max_length=128)
    description = models.TextField(_("说明"), blank=True)
    price_fen = models.PositiveIntegerField(_("价格(分)"))
    delivery = models.CharField(_("发货方式"), max_length=8, choices=Delivery.choices, default=Delivery.AUTO)
    # Manual goods have no card keys; their stock is a counter (None = unlimited).
    manual_stock = models.PositiveIntegerField(_("人工库存"), null=True, blank=True)
    is_active = models.BooleanField(default=True)
    sort_order = models.IntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "id"]
        verbose_name = _("商品")
        verbose_name_plural = _("商品")
        constraints = [
            models.CheckConstraint(condition=models.Q(price_fen__gt=0), name="product_price_positive")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"
