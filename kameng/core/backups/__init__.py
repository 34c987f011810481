"""Database backups, and their restore into a fresh database.

A backup is a folder `kameng-YYYYmmdd-HHMMSS/` (mode 0700) holding the dump and `manifest.json`:

* PostgreSQL: `database.pgdump`, made by `pg_dump --format=custom`. The dump, the manifest's migration state and its
  row counts all come from one REPEATABLE READ snapshot (`pg_export_snapshot()` handed to `pg_dump --snapshot`), so
  the manifest describes exactly what is in the dump while the shop keeps selling.
* SQLite: `database.sqlite3`, a copy made with SQLite's online backup API (consistent while the shop writes); the
  manifest is read from the copy.

The manifest records the time (`core.clock.now()`), the engine, the applied migrations, row counts of the tables
that matter, the dump's SHA-256 and a fingerprint of the card key: an HMAC under the key, which tells whether a key
is the right one and nothing about the key itself. The manifest is sealed by an HMAC under another key derived from
the card key, so a dump and manifest altered together are refused as surely as a damaged dump.

The encryption keys are never written beside a dump. `export_keys` writes them once to a file of their own (mode
0600), to be kept somewhere else: a dump is useless without the card key, and a key stored with the dumps would make
the encryption of every card key (卡密) pointless for anyone who gets hold of the backups.

A restore goes into an empty database only (unless forced), checks the key fingerprint, the seal and the SHA-256
before touching it, then checks the migrations and row counts and runs the restore checks the apps that own the data
registered (`register_restore_check`: console's `check_invariants`, inventory's decrypting one card key).
"""

from collections.abc import Callable

FORMAT = "kameng-backup/1"
MANIFEST = "manifest.json"
DUMP_FILES = {"postgresql": "database.pgdump", "sqlite": "database.sqlite3"}
# Row counts recorded in the manifest and compared after a restore: a restore that lost rows is caught at once.
COUNTED_MODELS = [
    ("accounts", "User"),
    ("inventory", "CardKey"),
    ("orders", "Order"),
    ("payments", "Payment"),
    ("payments", "Refund"),
    ("payments", "LedgerLine"),
    ("membership", "Membership"),
    ("membership", "Charge"),
]
# libpq connection options that may appear in DATABASES["default"]["OPTIONS"] and mean the same to pg_dump.
LIBPQ_OPTIONS = {
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "sslcrl",
    "connect_timeout",
    "target_session_attrs",
}
KEYS_WARNING = (
    "WARNING: these are the keys that decrypt every card key (卡密) in the backups. Store this file APART from the "
    "database dumps (another machine, a password manager, an offline medium): anyone holding both can read every "
    "card key, and without it the dumps cannot be decrypted at all. Never put it in the backup folder."
)


class BackupError(Exception):
    """A backup or restore that must not go on; the message says why and what to do."""


RestoreCheck = Callable[[], str]
_restore_checks: dict[str, RestoreCheck] = {}


def register_restore_check(name: str, check: RestoreCheck) -> None:
    """An app proves its own data after a restore (in AppConfig.ready): the check returns the line to log, or raises
    BackupError. Core cannot know the higher apps' promises, so they come to it."""
    _restore_checks[name] = check


def restore_checks() -> dict[str, RestoreCheck]:
    if not _restore_checks:
        raise LookupError("no restore checks registered: a restore would prove nothing")
    return dict(_restore_checks)


Log = Callable[[str], None]


def quiet(message: str) -> None:
    pass
