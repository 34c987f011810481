"""Row locks, always taken in one global order, so two transactions never wait on each other in a circle.

Every `SELECT … FOR UPDATE` in Kameng goes through this module (docs/architecture.md, "Lock order"): rows are
locked model by model in `LOCK_ORDER` and, within a model, by primary key. A transaction that already holds a
row of a model later in the order and asks for one earlier is refused with `LockOrderViolation`: that is the
path that would deadlock under load, caught by any single-threaded test that runs it. Sweeps and the key
reservation claim rows with `claim` (SKIP LOCKED: the claim never waits, but what it claimed is held like any
other lock, and what the transaction locks after it must come later in the order).

On PostgreSQL the first lock of a transaction sets `lock_timeout`, so a row held too long (a stuck transaction)
fails the waiter cleanly instead of hanging it; on SQLite, which locks the whole database, this is all a no-op
apart from the order check. `retried_atomic` runs a service's transaction and, should PostgreSQL still pick it
as a deadlock victim or fail it for serialization, runs it once more before anyone sees the error.
"""

import functools
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.db import OperationalError, transaction
from django.db.models import Model, QuerySet
from django.db.transaction import TransactionManagementError

log = logging.getLogger(__name__)

# Parents before children (a membership before its agreement and charges, an order before its payments), and
# what a path decides on before what it writes because of it. The sandbox plays the channel's own database.
LOCK_ORDER: tuple[str, ...] = (
    "support.Ticket",
    "support.Complaint",
    "membership.Membership",
    "membership.Agreement",
    "membership.Charge",
    "member",  # not a row: one member's advisory lock (lock_member), taken before what it guards is written
    "orders.Order",
    "inventory.CardKey",
    "payments.Payment",
    "payments.Refund",
    "payments.ChannelQuery",  # claimed by the query sweep on its own; the answer is applied in a later transaction
    "core.OutboxMessage",
    "sandbox.SandboxAgreement",
    "sandbox.SandboxTrade",
    "sandbox.SandboxNotification",
)
_RANK = {label: rank for rank, label in enumerate(LOCK_ORDER)}
MEMBER = "member"
# pg_advisory_xact_lock's first key: Kameng's member locks, apart from any other advisory lock on the server.
_MEMBER_LOCK_SPACE = 0x4B4D  # "KM"
# Longer than PostgreSQL's deadlock_timeout (1 s), so a real deadlock is reported as one, not as a timeout.
LOCK_TIMEOUT_MS = 5000
# SQLSTATEs worth one more try: the other transaction has finished or moved on by the time we run again.
RETRIED = {"40P01": "deadlock", "40001": "serialization failure"}
LOCK_TIMEOUT_SQLSTATE = (
    "55P03"  # lock_timeout: a row held that long is not freed by waiting again; answered 503
)

M = TypeVar("M", bound=Model)
P = ParamSpec("P")
R = TypeVar("R")


class LockOrderViolation(RuntimeError):
    """A path asked for a row of a model earlier in LOCK_ORDER than one it already holds."""


class _Held:
    """The rows locked inside one atomic block (one savepoint). It is registered as a (do-nothing) on-commit
    callback, so it lives exactly as long as those locks: Django drops a savepoint's callbacks when the savepoint
    rolls back (PostgreSQL releases the rows it locked then), keeps them when it is released into the enclosing
    block (the locks stay too), and drops them all when the transaction ends."""

    def __init__(self, sids: tuple[str, ...]):
        self.sids = sids
        self.rows: dict[str, set] = {}

    def __call__(self) -> None:
        pass


class _Locks:
    """What the current transaction holds: the union of its live `_Held` records."""

    def __init__(self, connection):
        self.connection = connection
        self.records = _live(connection)
        self.rows: dict[str, set] = {}
        for record in self.records:
            for label, pks in record.rows.items():
                self.rows.setdefault(label, set()).update(pks)
        self.top = max((_RANK[label] for label, pks in self.rows.items() if pks), default=-1)

    def note(self, label: str, rows: list[Model]) -> None:
        """Records rows just locked, in the record of the innermost block (created with the first lock)."""
        self.note_keys(label, [row.pk for row in rows])

    def note_keys(self, label: str, keys: list) -> None:
        if not keys:
            return  # a lock that found nothing holds nothing
        connection, sids = self.connection, tuple(self.connection.savepoint_ids)
        record = next((r for r in self.records if r.sids == sids), None)
        if record is None:
            record = _Held(sids)
            connection.on_commit(record)
            self.records.append(record)
        record.rows.setdefault(label, set()).update(keys)
        self.rows.setdefault(label, set()).update(keys)
        self.top = max(self.top, _RANK[label])


def _transaction_sid(connection) -> tuple[bool, str | None]:
    """The transaction as production sees it: the first atomic block not opened by Django's TestCase (tests
    wrap each test in one), named by its savepoint id (None for the outermost block, which has none). The first
    item is False when there is no such block: a test body taking locks itself, inside TestCase's own block."""
    blocks, sids = connection.atomic_blocks, connection.savepoint_ids
    offset = len(blocks) - len(sids)  # the outermost block has no savepoint
    for index, block in enumerate(blocks):
        if not getattr(block, "_from_testcase", False):
            return True, sids[index - offset] if index >= offset else None
    return False, None


def _live(connection) -> list[_Held]:
    """The `_Held` records of the current transaction whose savepoints have not been rolled back."""
    found, sid = _transaction_sid(connection)
    here = set(connection.savepoint_ids)
    records = []
    for registered_in, callback, *_ in connection.run_on_commit:
        if not isinstance(callback, _Held):
            continue
        if (found and (sid is None or sid in registered_in)) or (not found and registered_in == here):
            records.append(callback)
    return records


def _locks(connection, *, first_lock: bool = True) -> _Locks:
    locks = _Locks(connection)
    if first_lock and not locks.records and connection.vendor == "postgresql":
        # The transaction's first lock: SET LOCAL lasts to its end (and is undone with a rolled-back savepoint,
        # as is the record that would say it was set).
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = {int(LOCK_TIMEOUT_MS)}")
    return locks


def _rank(model: type[Model] | str) -> int:
    label = model if isinstance(model, str) else model._meta.label
    if label not in _RANK:
        raise LockOrderViolation(
            f"{label} has no place in LOCK_ORDER; add it there (and to docs/architecture.md)"
        )
    return _RANK[label]


def _connection(queryset: QuerySet):
    connection = transaction.get_connection(queryset.db)
    if not connection.in_atomic_block:
        raise TransactionManagementError("row locks are taken inside a transaction")
    return connection


def _check(held: _Locks, model: type[Model] | str, rows: list[Model] | list[int] | None) -> None:
    """Refuses a lock against the order: before the query (`rows` None) unless this model was asked for earlier
    in the transaction, after it unless every row found is one already held (asking again never waits). `model`
    may be a label that is not a model (MEMBER), whose `rows` are then keys."""
    if _rank(model) >= held.top:
        return
    label = model if isinstance(model, str) else model._meta.label
    mine = held.rows.get(label)
    keys = None if rows is None else [getattr(row, "pk", row) for row in rows]
    if mine is not None and (keys is None or all(key in mine for key in keys)):
        return
    holding = [other for other in LOCK_ORDER if _RANK[other] > _rank(model) and held.rows.get(other)]
    raise LockOrderViolation(
        f"{label} locked after {', '.join(holding)}: LOCK_ORDER takes it first (docs/architecture.md)"
    )


def _take(queryset: QuerySet[M], *, one: bool) -> list[M]:
    connection = _connection(queryset)
    held = _locks(connection)
    _check(held, queryset.model, None)
    locked = queryset.select_for_update(of=("self",))
    if one:
        row = locked.first()  # keeps the queryset's ordering: only that row is locked
        rows = [row] if row is not None else []
    else:
        rows = list(locked.order_by("pk"))
    _check(held, queryset.model, rows)
    held.note(queryset.model._meta.label, rows)
    return rows


def lock(queryset: QuerySet[M]) -> list[M]:
    """Locks every row the queryset selects, in primary-key order, and returns them."""
    return _take(queryset, one=False)


def lock_one(queryset: QuerySet[M]) -> M | None:
    """Locks the first row the queryset selects (by its ordering) and returns it, or None."""
    rows = _take(queryset, one=True)
    return rows[0] if rows else None


def claim(queryset: QuerySet[M], *, limit: int) -> list[M]:
    """Locks up to `limit` rows the queryset selects that no other transaction holds (SKIP LOCKED), in the
    queryset's order. The claim itself never waits (workers sweeping at once take different rows, buyers take
    different keys), but the claimed rows stay locked to the end of the transaction, so they count as held for
    the order check like any other lock: what the caller locks after them must come later in the order."""
    connection = _connection(queryset)
    held = _locks(connection)
    _check(held, queryset.model, None)
    rows = list(queryset.select_for_update(skip_locked=True, of=("self",))[:limit])
    held.note(queryset.model._meta.label, rows)
    return rows


def lock_each(*querysets: QuerySet) -> list[Model | None]:
    """Locks the first row of each queryset, model by model in LOCK_ORDER whatever order they are given in;
    returns them in the order given."""
    found: list[Model | None] = [None] * len(querysets)
    for index in sorted(range(len(querysets)), key=lambda i: _rank(querysets[i].model)):
        found[index] = lock_one(querysets[index])
    return found


def lock_member(user_id: int) -> None:
    """Serialises one member's writes that a per-member quota counts (unpaid orders at checkout; open tickets and
    attachment bytes; live API tokens): two of them at once would each count the rows before the other's exist and
    both pass. A PostgreSQL advisory lock on the member's id, released with the transaction, so no row is locked
    (the user row is referenced by every insert of theirs, whose foreign-key checks a row lock would block). It sits
    in LOCK_ORDER after the membership rows and before the order: a path may hold a ticket or a membership first,
    and must take it before any order, key or payment. On SQLite, which writes one transaction at a time, only the
    order check runs."""
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        raise TransactionManagementError("row locks are taken inside a transaction")
    held = _locks(connection)
    if user_id in held.rows.get(MEMBER, set()):
        return
    _check(held, MEMBER, [user_id])
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s::integer, %s::integer)",
                [_MEMBER_LOCK_SPACE, int(user_id) % 2**31],
            )
    held.note_keys(MEMBER, [user_id])


def hold(instance: M) -> M:
    """Makes sure this transaction holds `instance`'s row: if it does not yet (a sweep's SKIP LOCKED claim, or
    a caller that did not lock), locks it now and refreshes the instance from the locked row."""
    model = type(instance)
    connection = _connection(model._base_manager.all())
    held = _locks(connection)
    if instance.pk in held.rows.get(model._meta.label, set()):
        return instance
    _check(held, model, [instance])
    instance.refresh_from_db(from_queryset=model._base_manager.select_for_update(of=("self",)))
    held.note(model._meta.label, [instance])
    return instance


def holds(instance: Model) -> bool:
    """True when this transaction has locked `instance`'s row through this module."""
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        return False
    return instance.pk in _Locks(connection).rows.get(type(instance)._meta.label, set())  # creates nothing


def _sqlstate(exc: BaseException) -> str:
    cause = exc.__cause__
    return getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None) or ""


def contention(exc: BaseException) -> str:
    """What kind of lock contention failed a statement ("lock timeout", "deadlock", "serialization failure"), or ""
    when it was something else (a dropped connection, say)."""
    state = _sqlstate(exc)
    return "lock timeout" if state == LOCK_TIMEOUT_SQLSTATE else RETRIED.get(state, "")


def retried_atomic(fn: Callable[P, R]) -> Callable[P, R]:
    """Runs `fn` in a transaction of its own; a deadlock or serialization failure rolls it back and runs it once
    more, logged as what it was. Nested in a caller's transaction it is a plain savepoint: only whoever owns the
    transaction can retry it. `fn` must call no other system (a channel) and must be safe to run twice."""

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        return run_retried(functools.partial(fn, *args, **kwargs), name=fn.__qualname__)

    return run


def run_retried(fn: Callable[[], R], *, name: str) -> R:
    """`retried_atomic` for a block that is not a function of its own (the idempotency key's transaction, which
    wraps a service's): `fn()` in a transaction, run once more after a deadlock or serialization failure, when
    this call opens the transaction (owns it); a plain savepoint inside someone else's. `name` goes in the log."""
    if transaction.get_connection().in_atomic_block:
        with transaction.atomic():
            return fn()
    try:
        with transaction.atomic():
            return fn()
    except OperationalError as exc:
        state = _sqlstate(exc)
        if state == LOCK_TIMEOUT_SQLSTATE:
            log.warning("lock timeout in %s after %d ms: %s", name, LOCK_TIMEOUT_MS, exc)
        if state not in RETRIED:
            raise
        log.warning("%s in %s, running it once more: %s", RETRIED[state], name, exc)
    try:
        with transaction.atomic():
            return fn()
    except OperationalError as exc:
        if _sqlstate(exc) in RETRIED:
            log.error("%s in %s again after one retry: %s", RETRIED[_sqlstate(exc)], name, exc)
        raise
