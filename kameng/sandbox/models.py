"""The sandbox gateway's own books: what the pretend Alipay / WeChat Pay knows. Never the shop's tables."""

from django.db import models


class SandboxTrade(models.Model):
    class Status(models.TextChoices):
        WAITING = "waiting", "waiting for the buyer"
        PAID = "paid", "paid"

    channel = models.CharField(max_length=16)
    out_trade_no = models.CharField(max_length=64)
    trade_no = models.CharField(max_length=64, unique=True)
    amount_fen = models.PositiveIntegerField()
    subject = models.CharField(max_length=256)
    notify_url = models.URLField(max_length=500)
    return_url = models.URLField(max_length=500, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.WAITING)
    created_at = models.DateTimeField()
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["channel", "out_trade_no"], name="sandbox_trade_once")]

    def __str__(self) -> str:
        return f"{self.channel}:{self.out_trade_no}"


class SandboxRefund(models.Model):
    trade = models.ForeignKey(SandboxTrade, on_delete=models.CASCADE, related_name="refunds")
    out_refund_no = models.CharField(max_length=64)
    refund_id = models.CharField(max_length=64, unique=True)
    amount_fen = models.PositiveIntegerField()
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["trade", "out_refund_no"], name="sandbox_refund_once")]

    def __str__(self) -> str:
        return self.refund_id


class SandboxNotification(models.Model):
    """A notification the gateway owes the shop, retried on the channel's own schedule until answered."""

    trade = models.ForeignKey(SandboxTrade, on_delete=models.CASCADE, related_name="notifications")
    event_id = models.CharField(max_length=64, unique=True)  # Alipay notify_id / WeChat event id
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)  # None: delivered or given up
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_status = models.CharField(max_length=255, blank=True)

    class Meta:
        indexes = [models.Index(fields=["next_attempt_at"], name="sandbox_notification_due")]

    def __str__(self) -> str:
        return self.event_id
