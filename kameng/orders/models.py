from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from kameng.catalog.models import Product


class Order(models.Model):
    class Kind(models.TextChoices):
        GOODS = "goods", _("商品")
        MEMBERSHIP = "membership", _("会员")  # a VIP period: first purchase or a renewal charge

    class Status(models.TextChoices):
        PENDING_PAYMENT = "pending_payment", _("待支付")
        PAID = "paid", _("已支付")
        FULFILLING = "fulfilling", _("待人工发货")
        DELIVERED = "delivered", _("已发货")
        EXPIRED = "expired", _("已过期")
        REFUNDED = "refunded", _("已退款")

    class ClosedReason(models.TextChoices):
        """Why an unpaid order was closed for good: a payment that still arrives is refunded, never delivered."""

        NOT_CLOSED = "", _("未关闭")
        # The member's immediate cancel refunded the fee of the period whose VIP price this order carries.
        VIP_FEE_REFUNDED = "vip_fee_refunded", _("会员费已退款,会员价订单关闭")

    order_no = models.CharField(max_length=32, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.GOODS)
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="orders", null=True, blank=True
    )
    subject = models.CharField(max_length=128, blank=True)  # what was bought, in words the buyer reads
    quantity = models.PositiveIntegerField()
    unit_price_fen = models.PositiveIntegerField()
    original_amount_fen = models.PositiveIntegerField()
    discount_fen = models.PositiveIntegerField(default=0)  # the member's VIP saving on this order
    amount_fen = models.PositiveIntegerField()
    channel = models.CharField(max_length=16)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING_PAYMENT)
    # Higher first in the fulfilment queue: VIP orders are served first (优先发货).
    priority = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    paid_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)
    fulfilment_note = models.TextField(blank=True)  # what the operator delivered by hand
    # Set on an unpaid order (status expired) that must never be delivered (docs/rules.md#2-orders-and-card-keys).
    closed_reason = models.CharField(max_length=32, blank=True, choices=ClosedReason.choices)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("订单")
        verbose_name_plural = _("订单")
        indexes = [
            models.Index(fields=["status", "expires_at"], name="order_expiry"),
            models.Index(fields=["user", "-created_at"], name="order_by_user"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount_fen=models.F("original_amount_fen") - models.F("discount_fen")),
                name="order_amount_is_original_minus_discount",
            ),
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="order_quantity_positive"),
            models.CheckConstraint(
                condition=~models.Q(kind="goods") | models.Q(product__isnull=False),
                name="goods_order_has_product",
            ),
        ]

    def __str__(self) -> str:
        return self.order_no

    @property
    def status_label(self) -> str:
        """The status in the buyer's words. A closed order keeps `status` = expired (the API's contract) but must not
        read as merely expired: it was closed on purpose, and why matters to the buyer."""
        if self.closed_reason and self.status == self.Status.EXPIRED:  # a late payment refunded says 已退款
            return str(CLOSED_LABELS.get(self.closed_reason) or self.get_closed_reason_display())
        return self.get_status_display()


# What the status column says for an order closed for good, by `closed_reason`.
CLOSED_LABELS = {Order.ClosedReason.VIP_FEE_REFUNDED: _("已关闭(会员费已退款)")}


class FulfilmentQueueEntry(Order):
    """The manual-fulfilment queue as its own admin page (a proxy: same rows, filtered and sorted)."""

    class Meta:
        proxy = True
        verbose_name = _("人工发货队列")
        verbose_name_plural = _("人工发货队列")
