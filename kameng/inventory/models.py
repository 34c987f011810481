from django.conf import settings
from django.db import models
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from kameng.catalog.models import Product

SECRET_MAX_CHARS = 512

# Why a line of an import was not imported: the report stores the code, pages show the words.
REJECT_REASONS = {
    "duplicate": _("重复(文件内或库存中已有)"),
    "too_many_columns": _("多于两列"),
    "too_long": format_lazy(_("超过 {chars} 个字符"), chars=SECRET_MAX_CHARS),
    "invisible_characters": _("含控制字符或不可见字符"),
}


class ImportBatch(models.Model):
    class Source(models.TextChoices):
        ADMIN_PASTE = "admin_paste", _("后台粘贴")
        ADMIN_FILE = "admin_file", _("后台上传")
        CLI = "cli", _("命令行")
        CONSOLE = "console", _("运营看板(分段上传)")

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="import_batches")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    source = models.CharField(max_length=16, choices=Source.choices)
    created_at = models.DateTimeField()
    imported = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    malformed = models.PositiveIntegerField(default=0)
    # Rejected lines by number and reason; never the rejected secrets themselves.
    report = models.JSONField(default=list, blank=True)

    class Meta:
        verbose_name = _("导入批次")
        verbose_name_plural = _("导入批次")

    def __str__(self) -> str:
        return f"#{self.pk} {self.product.sku} +{self.imported}"

    def rejected_lines(self) -> list[dict]:
        """The report in the reader's language: {"line", "reason" (code), "message"}."""
        return [
            {**row, "message": str(REJECT_REASONS.get(row["reason"], row["reason"]))} for row in self.report
        ]


class CardKey(models.Model):
    """One card key (卡密). Sold to one order, ever."""

    class Status(models.TextChoices):
        AVAILABLE = "available", _("可售")
        RESERVED = "reserved", _("已预留")
        SOLD = "sold", _("已售")

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="card_keys")
    batch = models.ForeignKey(ImportBatch, on_delete=models.PROTECT, related_name="card_keys")
    secret_encrypted = models.BinaryField()
    secret_digest = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.AVAILABLE)
    order = models.ForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="card_keys"
    )
    reserved_at = models.DateTimeField(null=True, blank=True)
    sold_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("卡密")
        verbose_name_plural = _("卡密")
        constraints = [
            models.UniqueConstraint(fields=["product", "secret_digest"], name="cardkey_unique_per_product"),
            models.CheckConstraint(
                condition=models.Q(status="available", order__isnull=True)
                | (~models.Q(status="available") & models.Q(order__isnull=False)),
                name="cardkey_order_iff_taken",
            ),
        ]
        indexes = [models.Index(fields=["product", "status"], name="cardkey_stock")]

    def __str__(self) -> str:
        return f"{self.product.sku} key #{self.pk} ({self.status})"
