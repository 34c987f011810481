"""What a signed-in person holds, and how it ends: API tokens (expiring, sliding, revocable) and the site's sessions
(recorded per user so the account page can list and revoke them). The rules are in docs/security.md (Logins).

A use is recorded at most once an hour per token or session: a busy client costs one write an hour, not one a
request, and the expiry slides with the recorded use.
"""

from datetime import datetime, timedelta

from django.contrib.auth import update_session_auth_hash
from django.db import IntegrityError, transaction
from django.http import HttpRequest

from kameng.accounts.error_codes import AccountErrorCode
from kameng.accounts.models import ApiToken, User, UserSession
from kameng.accounts.services import token_digest, token_reference
from kameng.core import client, clock
from kameng.core.audit import Source, log_action
from kameng.core.error_codes import CoreErrorCode
from kameng.core.errors import DomainError

RECORD_EVERY = timedelta(hours=1)
# What the session remembers about its record: the record's id, the key it was recorded under (login changes the
# key) and when its use was last recorded.
SESSION_MARK = "kameng_session"
USER_AGENT_MAX = 256


def user_agent(request: HttpRequest) -> str:
    return request.headers.get("User-Agent", "")[:USER_AGENT_MAX]


# API tokens


def authenticate_token(*, token: str, ip: str | None, agent: str) -> ApiToken | None:
    """The live token for this Bearer value, its use recorded (and its expiry slid) if the last record is an hour
    old; None for a token we never issued; a refusal for one that expired or was revoked, so the client knows to
    get a new one rather than retry."""
    row = ApiToken.objects.select_related("user").filter(digest=token_digest(token)).first()
    if row is None or not row.user.is_active:
        return None
    now = clock.now()
    if row.revoked_at is not None:
        raise DomainError(CoreErrorCode.TOKEN_REVOKED)
    if row.expires_at <= now:
        raise DomainError(CoreErrorCode.TOKEN_EXPIRED)
    if row.last_used_at is None or now - row.last_used_at >= RECORD_EVERY:
        # Conditional, so that concurrent requests of one client record the hour once between them.
        ApiToken.objects.filter(pk=row.pk, revoked_at__isnull=True, last_used_at=row.last_used_at).update(
            last_used_at=now,
            expires_at=ApiToken.expiry_after_use(now),
            ip=ip,
            user_agent=agent,
        )
    return row


@transaction.atomic
def revoke_token(*, user: User, token_id: int, source: str) -> None:
    """Revokes one of the user's own tokens; another member's token id is answered as unknown and left alone."""
    row = ApiToken.objects.filter(pk=token_id, user=user).active().first()
    if row is None or not ApiToken.objects.filter(pk=row.pk).revoke():
        raise DomainError(AccountErrorCode.UNKNOWN_TOKEN)
    log_action(action="token.revoked", obj=row, actor=user, source=source, data=token_reference(row))


@transaction.atomic
def revoke_used_token(*, token: ApiToken) -> None:
    """`DELETE /api/v1/auth/token`: the token the request came with is revoked (the API's way to sign out)."""
    ApiToken.objects.filter(pk=token.pk).revoke()
    log_action(
        action="token.revoked", obj=token, actor=token.user, source=Source.API, data=token_reference(token)
    )


# Sessions


def _mark(row: UserSession, key: str) -> dict:
    return {"id": row.pk, "key": key, "at": row.last_used_at.isoformat()}


def note_session_use(request: HttpRequest) -> None:
    """Records a signed-in browser's session the first time it is seen after login (or after its key changed),
    and its use at most once an hour after that. Called by accounts.activity.SessionActivity after the view."""
    session = request.session
    key = session.session_key
    if key is None:
        return
    mark = session.get(SESSION_MARK)
    now = clock.now()
    if mark and mark.get("key") == key and now - _parse(mark.get("at")) < RECORD_EVERY:
        return
    fields = {
        "session_key": key,
        "last_used_at": now,
        "ip": client.client_ip(request),
        "user_agent": user_agent(request),
    }
    updated = mark and UserSession.objects.filter(pk=mark.get("id"), user=request.user).update(**fields)
    if updated:
        row = UserSession(pk=mark["id"], **fields)
    else:
        # A new sign-in: the records of this user's sessions that ended elsewhere go (an admin logout, expiry).
        UserSession.objects.filter(user=request.user).prune()
        # A record left by another user of this key; not this user's own, which a request of the same browser
        # running at this moment may have just written.
        UserSession.objects.filter(session_key=key).exclude(user=request.user).delete()
        # The same browser's first requests race in (tabs restored, a double click): one record, whoever wrote it.
        # A racing request's prune may also drop the record between its write and our read: then write it again.
        for _ in range(3):
            try:
                with (
                    transaction.atomic()
                ):  # a savepoint: losing a race leaves the caller's transaction usable
                    row, _created = UserSession.objects.get_or_create(
                        session_key=key, user=request.user, defaults={"created_at": now, **fields}
                    )
                break
            except IntegrityError:
                continue
        else:
            return  # three races lost in a row: the next request records the use
    session[SESSION_MARK] = _mark(row, key)


def _parse(stamp: str | None) -> datetime:
    try:
        return datetime.fromisoformat(stamp or "")
    except ValueError:  # a mark written by nothing we know: record the use again
        return datetime.min.replace(tzinfo=clock.SHANGHAI)


def forget_session(request: HttpRequest) -> None:
    """Logging out: this browser's record goes (its session is flushed by Django's logout); nothing else ends."""
    key = request.session.session_key
    if key is not None:
        UserSession.objects.filter(session_key=key).delete()


def keep_session_after_password_change(request: HttpRequest, user: User) -> None:
    """The password change ended every session of the user, this one too; the person who changed it stays signed
    in here under a new session key (Django's update_session_auth_hash), recorded anew after the view."""
    update_session_auth_hash(request, user)
    request.session.pop(SESSION_MARK, None)


@transaction.atomic
def revoke_session(*, user: User, session_id: int, source: str = Source.WEB) -> str:
    """Signs one of the user's own browsers out and returns its session key; another member's session id is
    answered as unknown and changes nothing."""
    row = UserSession.objects.filter(pk=session_id, user=user).first()
    if row is None:
        raise DomainError(AccountErrorCode.UNKNOWN_SESSION)
    UserSession.objects.filter(pk=row.pk).end()
    log_action(action="session.revoked", obj=row, actor=user, source=source)
    return row.session_key


@transaction.atomic
def set_new_password(*, user: User, password: str, source: str = Source.WEB) -> None:
    """The account page's password change (the form checked the old password and the new one's strength). Saving
    it revokes every token and session of the user (User.save); keep_session_after_password_change keeps the
    person who did it signed in."""
    user.set_password(password)
    user.save(update_fields=["password"])
    log_action(action="user.password_changed", obj=user, actor=user, source=source)
