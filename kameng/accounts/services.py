import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import authenticate, password_validation
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce

from kameng.accounts import names
from kameng.accounts.error_codes import AccountErrorCode
from kameng.accounts.models import ApiToken, User
from kameng.core import clock, locking
from kameng.core.audit import Source, log_action
from kameng.core.errors import DomainError
from kameng.core.roles import Role

USERNAME_MAX = 150


@transaction.atomic
def register_user(
    *, username: str, password: str, email: str, role: str = Role.MEMBER, source: str = Source.WEB
) -> User:
    username = names.normalize_username(username or "").strip()
    if not username or len(username) > USERNAME_MAX or not User.username_validator.regex.match(username):
        raise DomainError(AccountErrorCode.BAD_USERNAME)
    try:
        validate_email(email)
    except ValidationError:
        raise DomainError(AccountErrorCode.BAD_EMAIL) from None
    candidate = User(username=username, email=email, role=role)
    try:
        password_validation.validate_password(password, candidate)
    except ValidationError as exc:
        raise DomainError(AccountErrorCode.WEAK_PASSWORD, problems=" ".join(exc.messages)) from None
    if User.objects.filter(username__iexact=username).exists():
        raise DomainError(AccountErrorCode.USERNAME_TAKEN)
    if User.objects.filter(username_skeleton=names.username_skeleton(username)).exists():
        raise DomainError(AccountErrorCode.USERNAME_CONFUSABLE)
    candidate.set_password(password)
    candidate.save()
    log_action(action="user.registered", obj=candidate, actor=candidate, source=source, data={"role": role})
    return candidate


def check_credentials(*, request, username: str, password: str) -> User:
    """Authenticates through Django's authenticate(), whose backends all go through the login throttle
    (kameng.accounts.throttle): refused while the name from this address, or the address, has too many recent
    failures."""
    user = authenticate(request, username=username or "", password=password)
    if user is None:
        if getattr(request, "login_refused", None) is not None:
            raise DomainError(AccountErrorCode.TOO_MANY_ATTEMPTS)
        raise DomainError(AccountErrorCode.BAD_CREDENTIALS)
    return user


def check_own_password(*, request, user: User, password: str) -> None:
    """A signed-in user's current password, asked before it is changed: checked as a login is (check_credentials),
    so a stolen session cannot guess it faster than a login could. Raises what check_credentials raises."""
    proven = check_credentials(request=request, username=user.get_username(), password=password)
    # The stored name finds this very user; should it ever find another, that proves nothing about this one.
    if proven.pk != user.pk:
        raise DomainError(AccountErrorCode.BAD_CREDENTIALS)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def issue_token(*, user: User, source: str = Source.API, ip: str | None = None, user_agent: str = "") -> str:
    """A new Bearer token for the user, shown this once. A user holds at most `KAMENG_API_TOKENS_PER_USER` live
    tokens: past that, the one used least recently is revoked to make room (audit-logged), and the records of the
    user's ended tokens are kept to the same number, so one account cannot grow the table however often it asks."""
    # Two issues at once would each count the other's token as not there yet and both stay under the cap.
    locking.lock_member(user.pk)
    issued = clock.now()
    _make_room(user=user, source=source)
    token = "km_" + secrets.token_urlsafe(32)
    row = ApiToken.objects.create(
        user=user,
        digest=token_digest(token),
        prefix=token[:8],
        created_at=issued,
        last_used_at=issued,
        expires_at=ApiToken.expiry_after_use(issued),
        ip=ip,
        user_agent=user_agent[:256],
    )
    # The token's id and prefix: the trail still names it after the row is swept (forget_ended_tokens).
    log_action(action="token.issued", obj=user, actor=user, source=source, data=token_reference(row))
    return token


def token_reference(row: ApiToken) -> dict:
    return {"token": row.pk, "prefix": row.prefix}


def _make_room(*, user: User, source: str) -> None:
    cap = settings.KAMENG_API_TOKENS_PER_USER
    tokens = ApiToken.objects.filter(user=user)
    live = tokens.active().order_by(F("last_used_at").desc(nulls_last=True), "-created_at", "-pk")
    for row in live[cap - 1 :]:
        ApiToken.objects.filter(pk=row.pk).revoke()
        log_action(
            action="token.revoked",
            obj=row,
            actor=user,
            source=source,
            data={**token_reference(row), "reason": "too_many_tokens", "limit": cap},
        )
    # Ended (revoked or expired) tokens are kept a while so that a client gets `token_revoked` or `token_expired`
    # rather than an unknown token; the newest `cap` of them are enough for that.
    ended = tokens.filter(Q(revoked_at__isnull=False) | Q(expires_at__lte=clock.now())).order_by(
        Coalesce("revoked_at", "expires_at").desc(), "-pk"
    )
    surplus = list(ended.values_list("pk", flat=True)[cap:])
    if surplus:
        ApiToken.objects.filter(pk__in=surplus).delete()


# Rows deleted per sweep run at most (a backlog goes in pieces, beat running the sweeps every few seconds).
FORGET_BATCH = 10_000


def forget_ended_tokens() -> int:
    """Sweep: tokens revoked, or expired, more than `KAMENG_API_TOKEN_RETENTION_DAYS` ago are deleted (a batch per
    run). Until then a client presenting one is told it was revoked or expired; after, it is an unknown token. The
    audit trail keeps their id and prefix."""
    cutoff = clock.now() - timedelta(days=settings.KAMENG_API_TOKEN_RETENTION_DAYS)
    ended = ApiToken.objects.filter(
        Q(revoked_at__lt=cutoff) | Q(revoked_at__isnull=True, expires_at__lt=cutoff)
    )
    pks = list(ended.order_by("pk").values_list("pk", flat=True)[:FORGET_BATCH])
    deleted, _ = ApiToken.objects.filter(pk__in=pks).delete()
    return deleted
