"""The login throttle: every password check, whatever the path (login page, API token, admin, any later one), is
admitted here first, by the authentication backend (kameng.accounts.backends), and refused once its keys hold too
many recent failures.

Two keys count an attempt, both for the client's address (kameng.core.client; an IPv6 address counts as its /64,
which one customer usually holds whole):
* the name from that address: `KAMENG_LOGIN_MAX_FAILURES` (5);
* the address, whatever the names: `KAMENG_LOGIN_MAX_FAILURES_PER_ADDRESS` (20; more room, since several people
  may share one NAT).
No key counts a name from every address: such a key would let anyone lock anyone's account from anywhere. Guessing
one name from many addresses is bounded by the addresses an attacker holds, five guesses each per window.

Atomic: an attempt takes its place in the count *before* its password is checked, with one conditional UPDATE per
key (`failures < limit`): PostgreSQL re-checks that condition on the row as the previous updater committed it, so
however many attempts arrive at once, exactly as many as the limit leave room are admitted. A right password gives
its place back (and clears the name's failures from that address); a wrong one keeps it and is recorded
(LoginFailure). A key's window starts with the first attempt counted after the previous window ended, and lasts
`KAMENG_LOGIN_WINDOW_SECONDS`; a refusal does not extend it.

Call authenticate() outside a transaction of your own: the count is then committed whatever the caller does next.

The failure records are kept `KAMENG_LOGIN_FAILURE_RETENTION_DAYS` (30) days: anybody can add one with a wrong
password, so a sweep deletes the older ones. Nothing in the shop reads them back (the counting is LoginCounter's);
they are the trail an operator reads in the database after an attack.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from ipaddress import IPv6Network, ip_address

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Greatest

from kameng.accounts import names
from kameng.accounts.models import LoginCounter, LoginFailure
from kameng.core import clock
from kameng.core.client import client_ip

log = logging.getLogger(__name__)
NAME_MAX = 150
UNKNOWN_ADDRESS = "unknown"  # authenticate() called without a request (a script): one shared key


class LoginRefused(PermissionDenied):
    """Too many recent failures: authenticate() catches it (a PermissionDenied) and answers None; the request
    carries the refusal (`request.login_refused`) so the path can say why (kameng.accounts.middleware)."""

    def __init__(self, retry_after: int):
        super().__init__("too many failed logins")
        self.retry_after = retry_after


@dataclass(frozen=True)
class _Key:
    name: str  # "" for the address's own key
    address: str
    limit: int


def _address_key(address: str | None) -> str:
    if not address:
        return UNKNOWN_ADDRESS
    parsed = ip_address(address)
    if parsed.version == 6:
        return str(IPv6Network(f"{parsed}/64", strict=False))
    return str(parsed)


def _name_key(username: str) -> str:
    # A name counts by its look-alike skeleton (kameng.accounts.names): `operator`, `OPERATOR`, full-width
    # `ｏｐｅｒａｔｏｒ` and Cyrillic `оperator` all reach the same account or none, so they share one count.
    name = username.strip()
    return names.username_skeleton(name)[:NAME_MAX] if name else ""


def _keys(*, username: str, address: str | None) -> list[_Key]:
    where = _address_key(address)
    keys = [_Key("", where, settings.KAMENG_LOGIN_MAX_FAILURES_PER_ADDRESS)]
    name = _name_key(username)
    if name:
        keys.insert(0, _Key(name, where, settings.KAMENG_LOGIN_MAX_FAILURES))  # the tighter one first
    return keys


NEVER_OPENED = datetime(2000, 1, 1, tzinfo=clock.SHANGHAI)


def _take(key: _Key, now: datetime) -> bool:
    """Counts one attempt on the key if it has room: True when it did."""
    rows = LoginCounter.objects.filter(name=key.name, address=key.address)
    ended = Q(window_ends__lte=now)
    for _ in range(2):  # a second time only if the cleaning sweep deleted the row between the two statements
        # A new row is an ended window, whatever `now` its creator read: the first attempt counted on it opens
        # the window. (Created with the creator's `now`, an attempt that had read an earlier `now` counted on it
        # without opening a window, and the next one saw the window ended and reset the count: 40 parallel
        # guesses let up to 8 through.)
        LoginCounter.objects.bulk_create(
            [LoginCounter(name=key.name, address=key.address, failures=0, window_ends=NEVER_OPENED)],
            ignore_conflicts=True,
        )
        counted = rows.filter(ended | Q(failures__lt=key.limit)).update(
            failures=Case(When(ended, then=Value(1)), default=F("failures") + 1),
            window_ends=Case(
                When(ended, then=Value(now + timedelta(seconds=settings.KAMENG_LOGIN_WINDOW_SECONDS))),
                default=F("window_ends"),
            ),
        )
        if counted or rows.exists():
            return bool(counted)
    return False


def _give_back(key: _Key) -> None:
    LoginCounter.objects.filter(name=key.name, address=key.address).update(
        failures=Greatest(F("failures") - 1, Value(0))
    )


@dataclass
class Attempt:
    """One admitted attempt: counted as a failure until `succeeded()` says otherwise."""

    username: str
    address: str | None
    keys: list[_Key] = field(default_factory=list)

    def failed(self) -> None:
        LoginFailure.objects.create(
            username=names.normalize_username(self.username).strip().lower()[:NAME_MAX],
            ip=self.address,
            at=clock.now(),
        )

    def succeeded(self) -> None:
        for key in self.keys:
            if key.name:
                LoginCounter.objects.filter(name=key.name, address=key.address).update(failures=0)
            else:
                _give_back(key)


def admit(*, request, username: str) -> Attempt:
    """Counts the attempt on each of its keys, or raises LoginRefused (counting nothing) when one has no room."""
    address = client_ip(request)
    now = clock.now()
    attempt = Attempt(username=username, address=address)
    for key in _keys(username=username, address=address):
        if not _take(key, now):
            for taken in attempt.keys:
                _give_back(taken)
            ends = LoginCounter.objects.filter(name=key.name, address=key.address).values_list(
                "window_ends", flat=True
            )
            retry_after = max(1, int(((ends.first() or now) - now).total_seconds()))
            log.warning("login refused: too many failures for %s@%s", key.name or "*", key.address)
            refusal = LoginRefused(retry_after)
            if request is not None:
                request.login_refused = refusal
            raise refusal
        attempt.keys.append(key)
    return attempt


# Rows deleted per sweep run at most: a backlog (a month of an attack, or a first run) goes in pieces, beat running
# the sweeps every few seconds, instead of in one long statement.
FORGET_BATCH = 10_000


def forget_old_failures() -> int:
    """Sweep: failure records older than the retention go, a batch per run (oldest first)."""
    cutoff = clock.now() - timedelta(days=settings.KAMENG_LOGIN_FAILURE_RETENTION_DAYS)
    old = LoginFailure.objects.filter(at__lt=cutoff).order_by("at", "pk").values_list("pk", flat=True)
    deleted, _ = LoginFailure.objects.filter(pk__in=list(old[:FORGET_BATCH])).delete()
    return deleted


def forget_ended_windows() -> int:
    """Sweep: counters whose window ended count nothing (the next attempt starts afresh); deleting them keeps the
    table to the keys tried lately."""
    cutoff = clock.now() - timedelta(seconds=settings.KAMENG_LOGIN_WINDOW_SECONDS)
    deleted, _ = LoginCounter.objects.filter(window_ends__lt=cutoff).delete()
    return deleted
