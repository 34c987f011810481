import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import authenticate, password_validation
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from kameng.accounts.models import ApiToken, LoginFailure, Role, User
from kameng.core import clock
from kameng.core.audit import Source, log_action
from kameng.core.errors import Conflict, DomainError, InvalidInput

USERNAME_MAX = 150


class LoginThrottled(DomainError):
    status = 429
    code = "too_many_attempts"


class BadCredentials(DomainError):
    status = 401
    code = "bad_credentials"


@transaction.atomic
def register_user(
    *, username: str, password: str, email: str, role: str = Role.MEMBER, source: str = Source.WEB
) -> User:
    username = (username or "").strip()
    if not username or len(username) > USERNAME_MAX or not User.username_validator.regex.match(username):
        raise InvalidInput("username: 1–150 letters, digits and @.+-_", code="bad_username")
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidInput("email: not a valid address", code="bad_email") from None
    candidate = User(username=username, email=email, role=role)
    try:
        password_validation.validate_password(password, candidate)
    except ValidationError as exc:
        raise InvalidInput("password: " + " ".join(exc.messages), code="weak_password") from None
    if User.objects.filter(username__iexact=username).exists():
        raise Conflict("that username is taken", code="username_taken")
    candidate.set_password(password)
    candidate.save()
    log_action(action="user.registered", obj=candidate, actor=candidate, source=source, data={"role": role})
    return candidate


def _recent_failures(*, username: str, ip: str | None) -> tuple[int, int]:
    since = clock.now() - timedelta(seconds=settings.KAMENG_LOGIN_WINDOW_SECONDS)
    recent = LoginFailure.objects.filter(at__gte=since)
    by_name = recent.filter(username=username.lower()).count()
    # An address gets more room than a name: several people may share one NAT.
    by_ip = recent.filter(ip=ip).count() if ip else 0
    return by_name, by_ip


def check_credentials(*, request, username: str, password: str) -> User:
    """Authenticates, refusing while a name or an address has too many recent failures (throttled logins)."""
    ip = request.META.get("REMOTE_ADDR") if request is not None else None
    limit = settings.KAMENG_LOGIN_MAX_FAILURES
    by_name, by_ip = _recent_failures(username=username or "", ip=ip)
    if by_name >= limit or by_ip >= limit * 4:
        raise LoginThrottled("too many failed logins; try again in 15 minutes")
    user = authenticate(request, username=username, password=password)
    if user is None:
        LoginFailure.objects.create(username=(username or "").lower()[:USERNAME_MAX], ip=ip, at=clock.now())
        raise BadCredentials("wrong username or password")
    LoginFailure.objects.filter(username=user.username.lower()).delete()
    return user


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def issue_token(*, user: User, source: str = Source.API) -> str:
    token = "km_" + secrets.token_urlsafe(32)
    ApiToken.objects.create(user=user, digest=token_digest(token), prefix=token[:8], created_at=clock.now())
    log_action(action="token.issued", obj=user, actor=user, source=source)
    return token
