from datetime import datetime, timedelta
from importlib import import_module

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models, transaction
from django.utils.translation import gettext_lazy as _

from kameng.accounts.names import normalize_username, username_skeleton
from kameng.core import clock
from kameng.core.audit import Source, log_action
from kameng.core.roles import Role

STAFF_ROLES = frozenset({Role.SUPPORT, Role.FINANCE, Role.OPERATOR, Role.ADMIN})


class KamengUserManager(UserManager):
    def get_by_natural_key(self, username):
        """Every login path (the page, the API token, the admin) finds the user here through `authenticate()`: a
        name is looked up as typed, else in its NFKC form, so `ｏｐｅｒａｔｏｒ` signs in as `operator` while an
        account registered before names were normalised still signs in with its name exactly as stored."""
        normalized = normalize_username(username)
        if normalized == username:
            return super().get_by_natural_key(username)
        found = {user.username: user for user in self.filter(username__in=[username, normalized])}
        user = found.get(username) or found.get(normalized)
        if user is None:
            raise self.model.DoesNotExist
        return user


class User(AbstractUser):
    role = models.CharField(_("角色"), max_length=16, choices=Role.choices, default=Role.MEMBER)
    phone = models.CharField(
        _("手机号"), max_length=20, blank=True
    )  # for SMS notices, if the member gives one
    # The language of mail and inbox messages written while the member is not on the site.
    language = models.CharField(
        _("通知语言"), max_length=8, choices=[("zh-hans", "中文"), ("en", "English")], default="zh-hans"
    )
    # UTS #39 skeleton of the name (accounts.names): a new name whose skeleton is taken is refused. Indexed, not
    # unique: names registered before the rule may share one, and the migration that added it could not refuse them.
    username_skeleton = models.CharField(max_length=1200, db_index=True, editable=False)

    objects = KamengUserManager()

    def has_role(self, *roles: str) -> bool:
        return self.is_active and (self.role == Role.ADMIN or self.role in roles)

    def save(self, *args, **kwargs):
        # The admin site's door is the role: staff roles get in, members never do.
        self.is_staff = self.role in STAFF_ROLES
        self.is_superuser = self.role == Role.ADMIN
        self.username_skeleton = username_skeleton(self.username)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "username" in update_fields:
            kwargs["update_fields"] = {*update_fields, "username_skeleton"}
        # set_password() keeps the new password in _password until the save, and Django's own callers (the account
        # page's form, the admin's, password reset, `manage.py changepassword`) all save after it; a hash upgraded
        # at login is saved with _password cleared first, so it is not a change. Every path passes here.
        password_changed = self.pk is not None and self._password is not None
        with transaction.atomic():
            super().save(*args, **kwargs)
            if password_changed:
                self.revoke_credentials(reason="password_changed")

    def revoke_credentials(self, *, reason: str) -> None:
        """Revokes every API token and signs out every browser of this user (a password change: whoever knew the
        old password must not keep what it gave them)."""
        tokens = ApiToken.objects.filter(user=self).revoke()
        sessions = UserSession.objects.filter(user=self).end()
        log_action(
            action="credentials.revoked",
            obj=self,
            source=Source.SYSTEM,
            data={"reason": reason, "tokens": tokens, "sessions": sessions},
        )


class ApiTokenQuerySet(models.QuerySet):
    def active(self) -> "ApiTokenQuerySet":
        return self.filter(revoked_at__isnull=True, expires_at__gt=clock.now())

    def revoke(self) -> int:
        return self.filter(revoked_at__isnull=True).update(revoked_at=clock.now())


class ApiToken(models.Model):
    """A bearer token. Only its SHA-256 is stored; the token itself is shown once, when issued. It expires
    `KAMENG_API_TOKEN_TTL_DAYS` after its last recorded use (accounts.credentials)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    digest = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8)
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Where it was last used from, recorded with last_used_at (at most hourly), shown on the account page.
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=256, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @staticmethod
    def expiry_after_use(moment: datetime) -> datetime:
        return moment + timedelta(days=settings.KAMENG_API_TOKEN_TTL_DAYS)


def _session_store():
    return import_module(settings.SESSION_ENGINE).SessionStore


class UserSessionQuerySet(models.QuerySet):
    def alive(self) -> list["UserSession"]:
        """The recorded sessions the session store still holds unexpired (a logout elsewhere, say the admin's, or
        the session's own expiry ends a session without telling us). One look-up each: a person has a few."""
        store = _session_store()
        return [row for row in self if store(session_key=row.session_key).load()]

    def prune(self) -> None:
        """Drops the records of sessions that ended without us (see alive)."""
        alive = {row.pk for row in self.alive()}
        self.exclude(pk__in=alive).delete()

    def end(self) -> int:
        """Signs these browsers out: their sessions leave Django's session store, then their records go."""
        store = _session_store()
        keys = list(self.values_list("session_key", flat=True))
        for key in keys:
            store().delete(key)
        self.filter(session_key__in=keys).delete()
        return len(keys)


class UserSession(models.Model):
    """A browser signed in to the site. Django's session store cannot be searched by user, so each signed-in
    session is recorded here (accounts.activity) to be listed and revoked on the account page."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="web_sessions")
    # The session store's own key (django_session holds it too): needed to delete the session; never shown.
    session_key = models.CharField(max_length=40, unique=True)
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField()
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=256, blank=True)

    objects = UserSessionQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.user} {self.created_at}"


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
