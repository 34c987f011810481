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
before touching it, then checks the migrations and row counts, runs `check_invariants` and decrypts one card key.
"""

import base64
import hashlib
import hmac
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.db import OperationalError, connection, connections, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader

from kameng.core import clock

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


Log = Callable[[str], None]


def _quiet(message: str) -> None:
    pass


# --- keys ---------------------------------------------------------------------------------------------------------


def _master(card_key_b64: str) -> bytes:
    try:
        master = base64.b64decode(card_key_b64, validate=True)
    except ValueError:
        master = b""
    if len(master) != 32:
        raise BackupError("KAMENG_CARD_KEY must be base64 of 32 bytes")
    return master


def card_key_fingerprint(card_key_b64: str) -> str:
    """Names the key without revealing it: an HMAC under the key of a fixed label (never the key's own hash)."""
    digest = hmac.new(_master(card_key_b64), b"kameng backup card-key fingerprint v1", hashlib.sha256)
    return "hmac-sha256:" + digest.hexdigest()


def _seal(manifest: dict, card_key_b64: str) -> str:
    seal_key = hmac.new(_master(card_key_b64), b"kameng backup manifest seal v1", hashlib.sha256).digest()
    body = {k: v for k, v in manifest.items() if k != "seal"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return hmac.new(seal_key, canonical, hashlib.sha256).hexdigest()


def export_keys(path: Path, *, log: Log = _quiet) -> Path:
    """Writes KAMENG_CARD_KEY and DJANGO_SECRET_KEY to a new file, mode 0600, as an environment file
    (`set -a; . FILE; set +a`, or systemd's EnvironmentFile=). Never overwrites an existing file."""
    path = Path(path).resolve()
    fingerprint = card_key_fingerprint(settings.KAMENG_CARD_KEY)
    text = "\n".join(
        [
            f"# Kameng encryption keys, exported {clock.now().isoformat()} by `manage.py backup --keys-to`.",
            *(f"# {line}" for line in _wrap(KEYS_WARNING)),
            "# Restore: load this file into the environment of `manage.py restore` and of the shop.",
            f"# card key fingerprint (as in each backup's manifest): {fingerprint}",
            f"KAMENG_CARD_KEY='{settings.KAMENG_CARD_KEY}'",
            f"DJANGO_SECRET_KEY='{_shell_safe(settings.SECRET_KEY)}'",
            "",
        ]
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise BackupError(f"{path} exists; the keys are never written over an existing file") from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(text)
    log(f"keys written to {path} (mode 0600)")
    log(KEYS_WARNING)
    return path


def read_keys_file(path: Path) -> dict[str, str]:
    """The variables of a keys file, as `export_keys` wrote them."""
    values = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.partition("=")
        values[name.strip()] = value.strip().removeprefix("'").removesuffix("'").replace("'\\''", "'")
    return values


def _shell_safe(value: str) -> str:
    return value.replace("'", "'\\''")


def _wrap(text: str, width: int = 100) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return [*lines, line]


# --- backup -------------------------------------------------------------------------------------------------------


def engine() -> str:
    vendor = connection.vendor
    if vendor not in DUMP_FILES:
        raise BackupError(f"backups support PostgreSQL and SQLite, not {vendor}")
    return vendor


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _counted_tables() -> dict[str, str]:
    return {f"{app}.{name}": apps.get_model(app, name)._meta.db_table for app, name in COUNTED_MODELS}


def _read_state(cursor, quote: Callable[[str], str]) -> tuple[dict[str, list[str]], dict[str, int]]:
    """Applied migrations and row counts, through a DB-API cursor (Django's or sqlite3's)."""
    cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
    migrations: dict[str, list[str]] = {}
    for app, name in cursor.fetchall():
        migrations.setdefault(app, []).append(name)
    counts = {}
    for label, table in _counted_tables().items():
        cursor.execute(f"SELECT COUNT(*) FROM {quote(table)}")  # noqa: S608 - table names from our own models
        counts[label] = cursor.fetchone()[0]
    return migrations, counts


def _inside_instance_with_card_key(path: Path) -> bool:
    instance = Path(settings.INSTANCE_DIR).resolve()
    return (instance / "card_key").exists() and (path == instance or instance in path.parents)


def create_backup(out_dir: Path, *, log: Log = _quiet) -> Path:
    """Writes one backup folder under out_dir and returns it. Half-written backups never carry the final name."""
    kind = engine()
    out_dir = Path(out_dir).resolve()
    if _inside_instance_with_card_key(out_dir):
        raise BackupError(
            f"{out_dir} is inside the instance folder, which holds the card key (card_key): a dump stored beside "
            "its key is as good as unencrypted. Write backups elsewhere."
        )
    if connection.in_atomic_block:
        raise BackupError("a backup cannot run inside a transaction: it would not see what is committed")
    out_dir.mkdir(parents=True, exist_ok=True)
    taken_at = clock.now()
    stamp = taken_at.strftime("%Y%m%d-%H%M%S")
    work = out_dir / f".partial-kameng-{stamp}-{os.getpid()}"
    work.mkdir(mode=0o700)
    try:
        dump = work / DUMP_FILES[kind]
        details = _dump_postgresql(dump) if kind == "postgresql" else _dump_sqlite(dump)
        os.chmod(dump, 0o600)
        manifest = {
            "format": FORMAT,
            "created_at": taken_at.isoformat(),
            "engine": kind,
            "database": connection.settings_dict["NAME"],
            "dump": {
                "file": dump.name,
                "bytes": dump.stat().st_size,
                "sha256": sha256_file(dump),
                "tool": details["tool"],
            },
            "server_version": details.get("server_version"),
            "migrations": details["migrations"],
            "counts": details["counts"],
            "card_key_fingerprint": card_key_fingerprint(settings.KAMENG_CARD_KEY),
        }
        manifest["seal"] = _seal(manifest, settings.KAMENG_CARD_KEY)
        manifest_path = work / MANIFEST
        manifest_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        os.chmod(manifest_path, 0o600)
        final = _final_name(out_dir, f"kameng-{stamp}")
        work.rename(final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    log(f"backup written to {final} ({manifest['dump']['bytes']} bytes, sha256 {manifest['dump']['sha256']})")
    return final


def _final_name(out_dir: Path, base: str) -> Path:
    candidate, n = out_dir / base, 1
    while candidate.exists():
        n += 1
        candidate = out_dir / f"{base}-{n}"
    return candidate


def pg_tool(name: str) -> str:
    """pg_dump / pg_restore: KAMENG_PG_BINDIR if set, else the newest of Debian's postgresql-client
    (/usr/lib/postgresql/<major>/bin, since pg_dump must be at least the server's major version and /usr/bin holds
    only pg_wrapper), else the PATH."""
    bindir = os.environ.get("KAMENG_PG_BINDIR", "").strip()
    if bindir:
        candidate = Path(bindir) / name
        if not os.access(candidate, os.X_OK):
            raise BackupError(f"KAMENG_PG_BINDIR={bindir} has no {name}")
        return str(candidate)
    versions = [p for p in Path("/usr/lib/postgresql").glob(f"*/bin/{name}") if p.parts[-3].isdigit()]
    if versions:
        return str(max(versions, key=lambda p: int(p.parts[-3])))
    found = shutil.which(name)
    if not found:
        raise BackupError(f"{name} not found: install postgresql-client or set KAMENG_PG_BINDIR")
    return found


def _pg_command_env() -> tuple[str, dict[str, str]]:
    """A libpq conninfo for the default database (no password in it: that goes in PGPASSWORD, out of `ps`)."""
    from psycopg.conninfo import make_conninfo

    db = connection.settings_dict
    params = {"dbname": db["NAME"], "host": db.get("HOST") or None, "port": db.get("PORT") or None}
    params["user"] = db.get("USER") or None
    for key, value in (db.get("OPTIONS") or {}).items():
        if key in LIBPQ_OPTIONS:
            params[key] = str(value)
    env = dict(os.environ)
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    return make_conninfo(**{k: v for k, v in params.items() if v is not None}), env


def _run(command: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} failed ({result.returncode}): {result.stderr.strip()}")
    return result.stdout


def _dump_postgresql(dump: Path) -> dict:
    pg_dump = pg_tool("pg_dump")
    conninfo, env = _pg_command_env()
    tool = _run([pg_dump, "--version"], env).strip()
    # One snapshot for the manifest and the dump: the transaction that exports it stays open while pg_dump runs.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot(), current_setting('server_version')")
        snapshot, server_version = cursor.fetchone()
        migrations, counts = _read_state(cursor, connection.ops.quote_name)
        _run(
            [
                pg_dump,
                "--format=custom",
                f"--snapshot={snapshot}",
                "--no-password",
                f"--file={dump}",
                f"--dbname={conninfo}",
            ],
            env,
        )
    return {"tool": tool, "server_version": server_version, "migrations": migrations, "counts": counts}


def _dump_sqlite(dump: Path) -> dict:
    connection.ensure_connection()
    target = sqlite3.connect(dump)
    try:
        connection.connection.backup(target)  # the online backup API: a consistent copy while others write
        target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, readable without -wal/-shm
        (check,) = target.execute("PRAGMA quick_check").fetchone()
        if check != "ok":
            raise BackupError(f"the SQLite copy fails its quick_check: {check}")
        migrations, counts = _read_state(target.cursor(), lambda name: '"' + name.replace('"', '""') + '"')
    finally:
        target.close()
    return {
        "tool": f"sqlite3 backup API (SQLite {sqlite3.sqlite_version})",
        "migrations": migrations,
        "counts": counts,
    }


# --- restore ------------------------------------------------------------------------------------------------------


def read_manifest(backup_dir: Path) -> dict:
    path = Path(backup_dir) / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{path} not found: not a Kameng backup folder") from None
    except ValueError as exc:
        raise BackupError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path} is not a {FORMAT} manifest")
    return manifest


def verify_backup(backup_dir: Path, *, log: Log = _quiet) -> dict:
    """Everything that can be checked before touching a database: format, engine, the card key, the seal, the dump's
    SHA-256, and that this code knows every migration in it. Returns the manifest."""
    backup_dir = Path(backup_dir)
    manifest = read_manifest(backup_dir)
    kind = engine()
    if manifest.get("engine") != kind:
        raise BackupError(f"this is a {manifest.get('engine')} backup; the configured database is {kind}")
    expected = manifest.get("card_key_fingerprint", "")
    configured = card_key_fingerprint(settings.KAMENG_CARD_KEY)
    if not hmac.compare_digest(expected, configured):
        raise BackupError(
            "wrong card key: the configured KAMENG_CARD_KEY is not the key this backup was made with "
            f"(fingerprint {configured[:24]}… ≠ {expected[:24]}…). Load the keys file exported with "
            "`manage.py backup --keys-to` into the environment and try again; nothing was restored."
        )
    if not hmac.compare_digest(str(manifest.get("seal", "")), _seal(manifest, settings.KAMENG_CARD_KEY)):
        raise BackupError("the manifest does not match its seal: it was altered; nothing was restored")
    dump = backup_dir / DUMP_FILES[kind]
    if manifest["dump"].get("file") != dump.name or not dump.is_file():
        raise BackupError(f"{dump} is missing")
    actual = sha256_file(dump)
    if not hmac.compare_digest(actual, manifest["dump"]["sha256"]):
        raise BackupError(
            f"SHA-256 mismatch: {dump.name} is {actual}, the manifest says {manifest['dump']['sha256']}; the dump "
            "is damaged or was altered; nothing was restored"
        )
    known = set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)
    unknown = sorted(f"{app}.{name}" for app, names in manifest["migrations"].items() for name in names)
    unknown = [label for label in unknown if tuple(label.split(".", 1)) not in known]
    if unknown:
        raise BackupError(
            f"this backup has migrations this code does not know ({', '.join(unknown[:5])}): restore it with the "
            "version of Kameng that made it"
        )
    log(f"verified {backup_dir}: card key fingerprint, seal and SHA-256 {actual} match")
    return manifest


@dataclass
class RestoreReport:
    manifest: dict
    migrated: list[str]
    invariants: str
    card_key_checked: int | None


def restore_backup(backup_dir: Path, *, force: bool = False, migrate: bool = False, log: Log = _quiet):
    """Restores a verified backup into the configured (empty) database, then proves it: the same migrations and row
    counts as the manifest, `check_invariants` passing and one card key decrypting with the configured key."""
    backup_dir = Path(backup_dir)
    manifest = verify_backup(backup_dir, log=log)
    dump = backup_dir / DUMP_FILES[manifest["engine"]]
    existing = _existing_tables()
    if existing:
        if not force:
            raise BackupError(
                f"the target database is not empty ({len(existing)} tables, e.g. {', '.join(existing[:3])}): "
                "restore into a fresh database, or pass --force to drop everything in it first"
            )
        log(f"--force: dropping {len(existing)} tables from the target database")
        _drop_everything()
    if manifest["engine"] == "postgresql":
        _restore_postgresql(dump)
    else:
        _restore_sqlite(dump)
    log(f"restored {dump.name} into {connection.settings_dict['NAME']}")
    migrations, counts = _current_state()
    if migrations != manifest["migrations"]:
        raise BackupError("the restored database's migration state differs from the manifest")
    if counts != manifest["counts"]:
        raise BackupError(f"the restored row counts {counts} differ from the manifest's {manifest['counts']}")
    log(f"migration state and row counts match the manifest ({_summary(counts)})")
    pending = _pending_migrations()
    migrated = []
    if pending:
        if not migrate:
            raise BackupError(
                f"restored, but this code has {len(pending)} migrations the backup has not "
                f"({', '.join(pending[:5])}): run `manage.py migrate`, then `manage.py check_invariants`"
            )
        call_command("migrate", interactive=False, verbosity=0)
        migrated = pending
        log(f"applied {len(pending)} newer migrations")
    invariants = _run_invariants()
    log("check_invariants: every promise holds")
    checked = prove_card_key_decrypts()
    if checked is None:
        log("no card keys in the backup: nothing to decrypt")
    else:
        log(f"card key #{checked} decrypts with the configured KAMENG_CARD_KEY (its secret was not shown)")
    return RestoreReport(
        manifest=manifest, migrated=migrated, invariants=invariants, card_key_checked=checked
    )


def _summary(counts: dict[str, int]) -> str:
    return ", ".join(f"{label.split('.')[1]} {n}" for label, n in counts.items())


def _existing_tables() -> list[str]:
    try:
        with connection.cursor() as cursor:
            return sorted(connection.introspection.table_names(cursor, include_views=True))
    except OperationalError as exc:
        raise BackupError(
            f"cannot open the target database {connection.settings_dict['NAME']}: {exc} "
            "(on PostgreSQL, create it first: createdb NAME)"
        ) from None


# What --force drops on PostgreSQL, in this order (a table's identity sequence goes with its table).
PG_DROP_ORDER = [
    ("r", "TABLE"),
    ("p", "TABLE"),
    ("f", "FOREIGN TABLE"),
    ("m", "MATERIALIZED VIEW"),
    ("v", "VIEW"),
]
PG_DROP_ORDER.append(("S", "SEQUENCE"))


def _drop_everything() -> None:
    """--force: drops every table, view and sequence in the schemas on the search path (one transaction)."""
    quote = connection.ops.quote_name
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for relkind, kind in PG_DROP_ORDER:
                cursor.execute(
                    "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE n.nspname = ANY(current_schemas(false)) AND c.relkind = %s",
                    [relkind],
                )
                for schema, name in cursor.fetchall():
                    cursor.execute(f"DROP {kind} IF EXISTS {quote(schema)}.{quote(name)} CASCADE")
        else:
            cursor.execute(
                "SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%'"
            )
            for kind, name in cursor.fetchall():
                cursor.execute(f"DROP {kind.upper()} IF EXISTS {quote(name)}")
    if _existing_tables():
        raise BackupError("--force could not empty the target database")


def _restore_postgresql(dump: Path) -> None:
    conninfo, env = _pg_command_env()
    _run(
        [
            pg_tool("pg_restore"),
            "--exit-on-error",
            "--single-transaction",  # all or nothing: a failed restore leaves the database as it was
            "--no-owner",  # objects belong to the restoring user, whatever role owned them before
            "--no-privileges",
            "--no-password",
            f"--dbname={conninfo}",
            str(dump),
        ],
        env,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # pg_restore leaves the planner without statistics


def _restore_sqlite(dump: Path) -> None:
    name = str(connection.settings_dict["NAME"])
    if name == ":memory:" or "mode=memory" in name:
        raise BackupError(
            "the configured SQLite database is in memory; set DATABASE_URL=sqlite:////path/to/file"
        )
    connections.close_all()
    source = sqlite3.connect(f"file:{dump}?mode=ro", uri=True)
    target = sqlite3.connect(name)
    try:
        source.backup(target)  # writes the whole database, pages and all, into the target file
    finally:
        source.close()
        target.close()


def _current_state() -> tuple[dict[str, list[str]], dict[str, int]]:
    with connection.cursor() as cursor:
        return _read_state(cursor, connection.ops.quote_name)


def _pending_migrations() -> list[str]:
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _ in plan]


def _run_invariants() -> str:
    from io import StringIO

    from django.core.management.base import CommandError

    out = StringIO()
    try:
        call_command("check_invariants", stdout=out)
    except CommandError as exc:
        raise BackupError(f"restored, but check_invariants failed: {exc}\n{out.getvalue()}") from None
    return out.getvalue()


def prove_card_key_decrypts() -> int | None:
    """Decrypts one card key with the configured key and throws the plaintext away; returns its id."""
    from cryptography.exceptions import InvalidTag

    from kameng.inventory.crypto import decrypt_secret

    card_key = apps.get_model("inventory", "CardKey")
    row = card_key.objects.order_by("pk").values_list("pk", "product_id", "secret_encrypted").first()
    if row is None:
        return None
    pk, product_id, blob = row
    try:
        decrypt_secret(bytes(blob), product_id=product_id)
    except (InvalidTag, ValueError):
        raise BackupError(f"card key #{pk} does not decrypt with the configured KAMENG_CARD_KEY") from None
    return pk
