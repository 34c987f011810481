"""Making a backup: a consistent dump and its sealed manifest."""

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.db import connection, transaction

from kameng.core import clock
from kameng.core.backups import (
    COUNTED_MODELS,
    DUMP_FILES,
    FORMAT,
    LIBPQ_OPTIONS,
    MANIFEST,
    BackupError,
    Log,
    quiet,
)
from kameng.core.backups.keys import card_key_fingerprint, seal


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


def counted_tables() -> dict[str, str]:
    return {f"{app}.{name}": apps.get_model(app, name)._meta.db_table for app, name in COUNTED_MODELS}


def read_state(cursor, quote: Callable[[str], str]) -> tuple[dict[str, list[str]], dict[str, int]]:
    """Applied migrations and row counts, through a DB-API cursor (Django's or sqlite3's)."""
    cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
    migrations: dict[str, list[str]] = {}
    for app, name in cursor.fetchall():
        migrations.setdefault(app, []).append(name)
    counts = {}
    for label, table in counted_tables().items():
        cursor.execute(f"SELECT COUNT(*) FROM {quote(table)}")  # noqa: S608 - table names from our own models
        counts[label] = cursor.fetchone()[0]
    return migrations, counts


def _inside_instance_with_card_key(path: Path) -> bool:
    instance = Path(settings.INSTANCE_DIR).resolve()
    return (instance / "card_key").exists() and (path == instance or instance in path.parents)


def create_backup(out_dir: Path, *, log: Log = quiet) -> Path:
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
        manifest["seal"] = seal(manifest, settings.KAMENG_CARD_KEY)
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
    bindir = settings.KAMENG_PG_BINDIR
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


def pg_command_env() -> tuple[str, dict[str, str]]:
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


def run_tool(command: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} failed ({result.returncode}): {result.stderr.strip()}")
    return result.stdout


def _dump_postgresql(dump: Path) -> dict:
    pg_dump = pg_tool("pg_dump")
    conninfo, env = pg_command_env()
    tool = run_tool([pg_dump, "--version"], env).strip()
    # One snapshot for the manifest and the dump: the transaction that exports it stays open while pg_dump runs.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot(), current_setting('server_version')")
        snapshot, server_version = cursor.fetchone()
        migrations, counts = read_state(cursor, connection.ops.quote_name)
        run_tool(
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
        migrations, counts = read_state(target.cursor(), lambda name: '"' + name.replace('"', '""') + '"')
    finally:
        target.close()
    return {
        "tool": f"sqlite3 backup API (SQLite {sqlite3.sqlite_version})",
        "migrations": migrations,
        "counts": counts,
    }
