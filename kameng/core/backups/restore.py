"""Restoring a backup into a fresh database, and proving it sound."""

import hmac
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.db import OperationalError, connection, connections, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader

from kameng.core.backups import DUMP_FILES, FORMAT, MANIFEST, BackupError, Log, quiet, restore_checks
from kameng.core.backups.dump import engine, pg_command_env, pg_tool, read_state, run_tool, sha256_file
from kameng.core.backups.keys import card_key_fingerprint, seal


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


def verify_backup(backup_dir: Path, *, log: Log = quiet) -> dict:
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
    if not hmac.compare_digest(str(manifest.get("seal", "")), seal(manifest, settings.KAMENG_CARD_KEY)):
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
    checks: dict[str, str]  # what each app's restore check proved, by check name


def restore_backup(backup_dir: Path, *, force: bool = False, migrate: bool = False, log: Log = quiet):
    """Restores a verified backup into the configured (empty) database, then proves it: the same migrations and row
    counts as the manifest, then every app's restore check (`check_invariants`, a card key decrypting)."""
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
    checks = {}
    for name, check in restore_checks().items():
        checks[name] = check()
        log(checks[name])
    return RestoreReport(manifest=manifest, migrated=migrated, checks=checks)


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
    """--force: drops every table, view, sequence and function in the schemas on the search path (one transaction)."""
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
            # Trigger functions (the audit log's append-only guard) outlive their tables, and pg_restore's CREATE
            # FUNCTION would fail on them; functions that belong to an extension are the extension's to keep.
            cursor.execute(
                "SELECT n.nspname, p.proname, pg_get_function_identity_arguments(p.oid) FROM pg_proc p"
                " JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = ANY(current_schemas(false))"
                " AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')"
            )
            for schema, name, arguments in cursor.fetchall():
                cursor.execute(f"DROP FUNCTION IF EXISTS {quote(schema)}.{quote(name)}({arguments}) CASCADE")
        else:
            cursor.execute(
                "SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%'"
            )
            for kind, name in cursor.fetchall():
                cursor.execute(f"DROP {kind.upper()} IF EXISTS {quote(name)}")
    if _existing_tables():
        raise BackupError("--force could not empty the target database")


def _restore_postgresql(dump: Path) -> None:
    conninfo, env = pg_command_env()
    run_tool(
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
        return read_state(cursor, connection.ops.quote_name)


def _pending_migrations() -> list[str]:
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _ in plan]
