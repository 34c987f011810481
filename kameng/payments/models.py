from django.db import models
from django.utils.translation import gettext_lazy as _

from kameng.orders.models import Order


class NotificationLog(models.Model):
    """Every notification a channel sent us, whether accepted or not. Accepted ones are unique per channel and
    keep their whole body (a dispute needs it verified again). A rejected one keeps an excerpt (the first 2 KB)
    and the SHA-256 and size of the whole body, and the same body rejected for the same reason again only counts
    (`repeats`, `last_received_at`): whoever sends junk cannot make us store it (docs/security.md)."""

    channel = models.CharField(max_length=16)
    dedupe_key = models.CharField(max_length=128)
    kind = models.CharField(max_length=32, blank=True)
    accepted = models.BooleanField(default=False)
    reason = models.CharField(max_length=255, blank=True)
    headers = models.JSONField(default=dict)  # those of the first delivery
    body = models.TextField()  # the whole body if accepted, else its first EXCERPT_BYTES
    body_sha256 = models.CharField(
        max_length=64, blank=True
    )  # of the whole body as received ("" before 2026-12)
    body_bytes = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField()  # the first delivery
    repeats = models.PositiveIntegerField(default=1)  # deliveries of this body rejected for this reason
    last_received_at = models.DateTimeField(null=True, blank=True)

    EXCERPT_BYTES = 2048

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "dedupe_key"],
                condition=models.Q(accepted=True),
                name="notification_processed_once",
            ),
            # Rows logged before the digest existed have none and stay as they are.
            models.UniqueConstraint(
                fields=["channel", "body_sha256", "reason"],
                condition=models.Q(accepted=False) & ~models.Q(body_sha256=""),
                name="rejection_counted_once",
            ),
        ]
        verbose_name = _("渠道通知")
        verbose_name_plural = _("渠道通知")

    def __str__(self) -> str:
        return f"{self.channel}:{self.dedupe_key} {'ok' if self.accepted else self.reason}"


class Payment(models.Model):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payments")
    channel = models.CharField(max_length=16)
    channel_trade_no = models.CharField(max_length=64)
    amount_fen = models.PositiveIntegerField()
    paid_at = models.DateTimeField()
    notification = models.ForeignKey(NotificationLog, null=True, on_delete=models.PROTECT)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["channel", "channel_trade_no"], name="payment_once")]
        verbose_name = _("支付")
        verbose_name_plural = _("支付")

    def __str__(self) -> str:
        return f"{self.channel}:{self.channel_trade_no} {self.amount_fen}"


class Refund(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("退款中")
        SUCCEEDED = "succeeded", _("已退款")

    class Reason(models.TextChoices):
        OUT_OF_STOCK = "out_of_stock", _("缺货自动退款")
        DUPLICATE_PAYMENT = "duplicate_payment", _("重复支付")
        MEMBERSHIP_CANCELLED = "membership_cancelled", _("会员退订退款")
        RENEWAL_AFTER_CANCEL = "renewal_after_cancel", _("退订后的续费扣款退回")
        ORDER_CLOSED = "order_closed", _("订单已关闭,全额退回")

    refund_no = models.CharField(max_length=32, unique=True)
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount_fen = models.PositiveIntegerField()
    reason = models.CharField(max_length=32, choices=Reason.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    channel_refund_no = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField()
    succeeded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("退款")
        verbose_name_plural = _("退款")
        constraints = [models.CheckConstraint(condition=models.Q(amount_fen__gt=0), name="refund_positive")]

    def __str__(self) -> str:
        return self.refund_no


class LedgerEntry(models.Model):
    """A balanced double-entry journal entry: its lines sum to zero (debits positive, credits negative)."""

    at = models.DateTimeField()
    kind = models.CharField(max_length=32)
    reference = models.CharField(max_length=64, db_index=True)

    class Meta:
        verbose_name = _("账务分录")
        verbose_name_plural = _("账务分录")

    def __str__(self) -> str:
        return f"{self.kind} {self.reference}"


class LedgerLine(models.Model):
    entry = models.ForeignKey(LedgerEntry, on_delete=models.PROTECT, related_name="lines")
    account = models.CharField(max_length=64, db_index=True)
    amount_fen = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.account} {self.amount_fen:+d}"


class ChannelQuery(models.Model):
    """The shop asking a channel about a trade or a refund whose outcome it was not told (kameng.payments.queries):
    one row per order's trade, or per refund, with its back-off. Settled once nothing more is to be asked."""

    class Kind(models.TextChoices):
        TRADE = "trade", _("交易")
        REFUND = "refund", _("退款")

    kind = models.CharField(max_length=8, choices=Kind.choices)
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="channel_queries")
    refund = models.OneToOneField(
        Refund, null=True, blank=True, on_delete=models.PROTECT, related_name="channel_query"
    )
    agreement_charge = models.BooleanField(default=False)  # a charge of an agreement, not a cashier trade
    created_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)
    next_query_at = models.DateTimeField(null=True, blank=True)  # None: settled
    last_queried_at = models.DateTimeField(null=True, blank=True)
    last_state = models.CharField(max_length=16, blank=True)  # TradeState, or the refund's Outcome
    last_message = models.CharField(max_length=255, blank=True)
    closed_at_channel = models.DateTimeField(
        null=True, blank=True
    )  # close_trade confirmed: never payable now
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("渠道查询")
        verbose_name_plural = _("渠道查询")
        indexes = [models.Index(fields=["next_query_at"], name="channel_query_due")]
        constraints = [
            models.UniqueConstraint(
                fields=["order"], condition=models.Q(kind="trade"), name="one_trade_query_per_order"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.order_id} {self.last_state or '-'}"
