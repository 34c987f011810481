from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Notification(models.Model):
    """A message to a member (站内信), also sent by e-mail / SMS through the outbox."""

    class Delivery(models.TextChoices):
        NONE = "none", _("不发送")
        PENDING = "pending", _("待发送")
        SENT = "sent", _("已发送")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="notifications")
    kind = models.CharField(max_length=64)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    link = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)
    dedupe_key = models.CharField(max_length=128, unique=True, null=True, blank=True)
    email_status = models.CharField(max_length=8, choices=Delivery.choices, default=Delivery.NONE)
    email_sent_at = models.DateTimeField(null=True, blank=True)
    sms_status = models.CharField(max_length=8, choices=Delivery.choices, default=Delivery.NONE)
    sms_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("通知")
        verbose_name_plural = _("通知")
        indexes = [models.Index(fields=["user", "read_at"], name="notification_unread")]

    def __str__(self) -> str:
        return self.subject
