"""Support tickets (客服工单), their messages and attachments, complaints (投诉), and the working-day calendar."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Ticket(models.Model):
    class Category(models.TextChoices):
        CANCEL_MEMBERSHIP = "cancel_membership", _("退订会员")
        REFUND = "refund", _("退款")
        ORDER = "order", _("订单问题")
        OTHER = "other", _("其他")

    class Status(models.TextChoices):
        OPEN = "open", _("待处理")
        WAITING_MEMBER = "waiting_member", _("等待会员回复")
        APPROVED = "approved", _("已同意")
        REJECTED = "rejected", _("已驳回")
        CLOSED = "closed", _("已关闭")

    OPEN_STATES = (Status.OPEN, Status.WAITING_MEMBER)

    ticket_no = models.CharField(max_length=32, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="tickets")
    category = models.CharField(max_length=32, choices=Category.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    order_no = models.CharField(max_length=32, blank=True)  # the purchase proof the member gave
    proof_verified = models.BooleanField(
        default=False
    )  # the order is this member's membership purchase/renewal
    reason = models.TextField()
    is_vip = models.BooleanField(default=False)  # VIP tickets sort first
    created_at = models.DateTimeField()
    due_at = models.DateTimeField()
    overdue_at = models.DateTimeField(null=True, blank=True)  # flagged and escalated
    auto_renew_stopped_at = models.DateTimeField(
        null=True, blank=True
    )  # by the SLA, for cancellation tickets
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolution = models.TextField(blank=True)  # the written reason of a rejection, or what was done
    cancellation = models.ForeignKey(
        "membership.Cancellation", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-is_vip", "due_at", "id"]
        verbose_name = _("客服工单")
        verbose_name_plural = _("客服工单")
        indexes = [models.Index(fields=["status", "due_at"], name="ticket_due")]

    def __str__(self) -> str:
        return self.ticket_no


class TicketMessage(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="messages")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    from_staff = models.BooleanField(default=False)
    body = models.TextField()
    created_at = models.DateTimeField()
    # Stored outside the web root (KAMENG_PRIVATE_MEDIA), served only to the ticket's owner and staff.
    attachment = models.FileField(upload_to="tickets/%Y/%m/", blank=True)
    attachment_type = models.CharField(max_length=32, blank=True)
    # The stored file is the picture re-encoded without its metadata (support.storage); what the member sent is
    # kept as its hash, for the evidence bundle. The stored size counts against the member's attachment quota.
    attachment_bytes = models.PositiveIntegerField(default=0)
    attachment_sha256 = models.CharField(max_length=64, blank=True)
    original_sha256 = models.CharField(max_length=64, blank=True)
    original_bytes = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.ticket} · {self.created_at:%Y-%m-%d %H:%M}"


class Complaint(models.Model):
    """投诉 about a ticket, a cancellation or a refund; operators answer within the same working-day SLA."""

    class About(models.TextChoices):
        TICKET = "ticket", _("工单")
        CANCELLATION = "cancellation", _("退订")
        REFUND = "refund", _("退款")

    complaint_no = models.CharField(max_length=32, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="complaints")
    about = models.CharField(max_length=16, choices=About.choices)
    about_ref = models.CharField(
        max_length=32
    )  # ticket_no / receipt_no / refund_no, checked to be the member's
    text = models.TextField()
    created_at = models.DateTimeField()
    due_at = models.DateTimeField()
    answer = models.TextField(blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    overdue_at = models.DateTimeField(null=True, blank=True)  # not answered in time: flagged and escalated

    class Meta:
        ordering = ["due_at", "id"]
        verbose_name = _("投诉")
        verbose_name_plural = _("投诉")

    def __str__(self) -> str:
        return self.complaint_no


class CalendarDay(models.Model):
    """A day the operator set by hand: for a year the holiday package does not know yet (or a correction)."""

    date = models.DateField(unique=True)
    is_workday = models.BooleanField()
    note = models.CharField(max_length=64, blank=True)  # e.g. 春节, 调休上班

    class Meta:
        ordering = ["date"]
        verbose_name = _("工作日历")
        verbose_name_plural = _("工作日历")

    def __str__(self) -> str:
        return f"{self.date} {'上班' if self.is_workday else '休息'}"
