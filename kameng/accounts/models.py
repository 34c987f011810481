from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from kameng.core.roles import Role

STAFF_ROLES = frozenset({Role.SUPPORT, Role.FINANCE, Role.OPERATOR, Role.ADMIN})


class User(AbstractUser):
    role = models.CharField(_("角色"), max_length=16, choices=Role.choices, default=Role.MEMBER)
    phone = models.CharField(
        _("手机号"), max_length=20, blank=True
    )  # for SMS notices, if the member gives one
    # The language of mail and inbox messages written while the member is not on the site.
    language = models.CharField(
        _("通知语言"), max_length=8, choices=[("zh-hans", "中文"), ("en", "English")], default="zh-hans"
    )

    def has_role(self, *roles: str) -> bool:
        return self.is_active and (self.role == Role.ADMIN or self.role in roles)

    def save(self, *args, **kwargs):
        # The admin site's door is the role: staff roles get in, members never do.
        self.is_staff = self.role in STAFF_ROLES
        self.is_superuser = self.role == Role.ADMIN
        super().save(*args, **kwargs)


class ApiToken(models.Model):
    """A bearer token. Only its SHA-256 is stored; the token itself is shown once, when issued."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    digest = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8)
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"


class LoginFailure(models.Model):
    """One failed login: the record of who tried which name from where (the throttle counts in LoginCounter)."""

    username = models.CharField(max_length=150, db_index=True)
    ip = models.GenericIPAddressField(null=True, db_index=True)
    at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.username}@{self.ip} {self.at}"


class LoginCounter(models.Model):
    """The login throttle's count for one key (kameng.accounts.throttle): one address (`name` empty), or one name
    from one address. An attempt is counted before its password is checked, by a conditional UPDATE of this row,
    so parallel attempts can never count past the limit; a right password gives its count back."""

    name = models.CharField(max_length=150, blank=True)
    address = models.CharField(max_length=64)  # an address, an IPv6 /64, or "unknown" without a request
    failures = models.PositiveIntegerField(default=0)
    window_ends = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["name", "address"], name="login_counter_key")]

    def __str__(self) -> str:
        return f"{self.name or '*'}@{self.address}: {self.failures}"
