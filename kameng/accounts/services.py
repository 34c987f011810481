import hashlib
import secrets

from django.contrib.auth import authenticate, password_validation
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from kameng.accounts import names
from kameng.accounts.error_codes import AccountErrorCode
from kameng.accounts.models import ApiToken, User
from kameng.core import clock
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
    token = "km_" + secrets.token_urlsafe(32)
    issued = clock.now()
    ApiToken.objects.create(
        user=user,
        digest=token_digest(token),
        prefix=token[:8],
        created_at=issued,
        last_used_at=issued,
        expires_at=ApiToken.expiry_after_use(issued),
        ip=ip,
        user_agent=user_agent[:256],
    )
    log_action(action="token.issued", obj=user, actor=user, source=source)
    return token
