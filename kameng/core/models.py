from django.conf import settings
from django.db import models


class TestClock(models.Model):
    """The sandbox test clock's persisted offset (one row). Production never reads it."""

    offset_seconds = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"+{self.offset_seconds}s"


APPEND_ONLY = "audit log rows are append-only"


class AuditLogQuerySet(models.QuerySet):
    """Bulk writes are refused like single ones (the database refuses them too: migration core 0003)."""

    def update(self, **kwargs):
        raise RuntimeError(APPEND_ONLY)

    def delete(self):
        raise RuntimeError(APPEND_ONLY)


class AuditLog(models.Model):
    """Append-only record of every state change: who, what, when, from where (审计日志)."""

    class Source(models.TextChoices):
        WEB = "web", "web"
        API = "api", "api"
        ADMIN = "admin", "admin"
        CLI = "cli", "cli"
        CHANNEL = "channel", "payment channel"
        SYSTEM = "system", "system"
        SANDBOX = "sandbox", "sandbox"
        QUERY = "query", "channel query"  # what the channel answered when we asked (kameng.payments.queries)

    at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    source = models.CharField(max_length=16, choices=Source.choices)
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64, db_index=True)
    data = models.JSONField(default=dict, blank=True)

    objects = AuditLogQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.action} {self.object_type}:{self.object_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise RuntimeError(APPEND_ONLY)
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError(APPEND_ONLY)


class IdempotencyKey(models.Model):
    """The stored answer to an API write, so that a retry with the same key gets the same result."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    key = models.CharField(max_length=128)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response_body = models.JSONField()
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_once_per_user")]

    def __str__(self) -> str:
        return self.key


class OutboxMessage(models.Model):
    """A side effect written in the same transaction as the state change that causes it, delivered after commit."""

    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        DELIVERED = "delivered", "delivered"
        DEAD = "dead", "dead"

    topic = models.CharField(max_length=64)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField()
    available_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "available_at"], name="outbox_due")]

    def __str__(self) -> str:
        return f"{self.topic}#{self.pk} {self.status}"


class SweepStat(models.Model):
    """How each due-time sweep last ran, kept in the database so every web node's /metrics reports the workers'."""

    name = models.CharField(max_length=64, primary_key=True)
    runs = models.PositiveBigIntegerField(default=0)
    items = models.PositiveBigIntegerField(default=0)
    last_started_at = models.DateTimeField(null=True)
    last_duration_ms = models.PositiveIntegerField(default=0)
    last_items = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return self.name


class RateCounter(models.Model):
    """How many times one subject (a member, an address) did one action in one fixed window (kameng.core.ratelimit).

    Counted by one upsert, so parallel requests add up instead of overwriting; a subject keeps at most its current
    and its previous window per action (older ones are deleted when a new window starts)."""

    action = models.CharField(max_length=32)
    subject = models.CharField(max_length=128)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    hits = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["action", "subject", "window_start"], name="rate_counter_once")
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.subject} {self.hits} from {self.window_start:%Y-%m-%d %H:%M:%S}"
