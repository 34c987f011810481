"""Backups restore into a fresh database that keeps the shop's promises and decrypts its card keys, and every restore
that would be wrong (another key, a damaged or altered dump, a database already in use) is refused before it starts.

The restores run `manage.py restore` in a subprocess, as an operator would, against a database of their own.
"""

import base64
import json
import os
import secrets
import sqlite3
import stat
import subprocess
import sys
import threading
from io import StringIO
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings

from kameng.accounts.models import User
from kameng.core import backups
from kameng.core.backups import dump as dump_module
from kameng.core.backups.dump import sha256_file
from kameng.core.backups.keys import card_key_fingerprint, read_keys_file
from kameng.inventory.crypto import decrypt_secret
from kameng.inventory.models import CardKey
from kameng.membership.models import Membership
from kameng.orders.models import Order
from tests.factories import (
    PlanFactory,
    ProductFactory,
    UserFactory,
    add_keys,
    join_vip,
    pay_in_sandbox,
    place_order,
)

ROOT = Path(settings.BASE_DIR)

# --- helpers ------------------------------------------------------------------------------------------------------


def shop_with_a_sale_and_a_member() -> tuple[Order, list[str]]:
    """A delivered order holding card keys, and an active VIP member; returns the order and the stock's secrets."""
    product = ProductFactory()
    stock = add_keys(product, 4)
    order = place_order(UserFactory(), product, quantity=2)
    pay_in_sandbox(order)
    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED
    assert join_vip(UserFactory(), PlanFactory()).status == Membership.Status.ACTIVE
    return order, stock


def make_backup(out: Path) -> Path:
    stdout = StringIO()
    call_command("backup", out=out, stdout=stdout, stderr=StringIO())
    return Path(stdout.getvalue().strip())


def export_keys(tmp_path: Path) -> Path:
    vault = tmp_path / "vault"  # somewhere else than the dumps, as docs/backups.md asks
    vault.mkdir()
    call_command("backup", keys_to=vault / "kameng-keys.env", stderr=StringIO())
    return vault / "kameng-keys.env"


def manage(*args: str, database_url: str, card_key: str, tmp_path: Path, secret_key: str = "s" * 50):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",  # an operator's manage.py, not the test settings
        "DATABASE_URL": database_url,
        "KAMENG_CARD_KEY": card_key,
        "DJANGO_SECRET_KEY": secret_key,
        "KAMENG_INSTANCE_DIR": str(tmp_path / "restore-instance"),  # nothing of the test's instance folder
    }
    return subprocess.run(  # noqa: S603 - our own manage.py
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def restore_into(database: str, folder: Path, tmp_path: Path, *options: str, card_key: str = ""):
    """`manage.py restore FOLDER` into a PostgreSQL database, with the shop's card key unless told another."""
    return manage(
        "restore",
        str(folder),
        *options,
        database_url=pg_url(database),
        card_key=card_key or settings.KAMENG_CARD_KEY,
        tmp_path=tmp_path,
    )


def _pg_params(dbname: str) -> dict:
    db = connection.settings_dict
    params = {"dbname": dbname, "host": db["HOST"], "port": db["PORT"], "user": db["USER"]}
    params["password"] = db["PASSWORD"]
    return {k: v for k, v in params.items() if v}


def pg_url(dbname: str) -> str:
    db = connection.settings_dict
    auth = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{dbname}"


def pg_query(dbname: str, sql: str, params=()) -> list[tuple]:
    with psycopg.connect(**_pg_params(dbname)) as conn:
        return conn.execute(sql, params).fetchall()


def pg_tables(dbname: str) -> list[str]:
    rows = pg_query(dbname, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
    return [name for (name,) in rows]


@pytest.fixture
def fresh_pg_database():
    """An empty database kameng_backup_restore_<random>, dropped afterwards."""
    name = f"kameng_backup_restore_{secrets.token_hex(4)}"
    with psycopg.connect(**_pg_params("postgres"), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    try:
        yield name
    finally:
        with psycopg.connect(**_pg_params("postgres"), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


# --- PostgreSQL: pg_dump and pg_restore ---------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_postgres_backup_restores_into_a_fresh_database_that_keeps_its_promises_and_decrypts(
    tmp_path, fresh_pg_database
):
    order, stock = shop_with_a_sale_and_a_member()
    sold = CardKey.objects.filter(order=order).order_by("pk").first()
    keys = export_keys(tmp_path)
    folder = make_backup(tmp_path / "dumps")
    card_key = read_keys_file(keys)["KAMENG_CARD_KEY"]
    url = pg_url(fresh_pg_database)

    restored = manage("restore", str(folder), database_url=url, card_key=card_key, tmp_path=tmp_path)
    assert restored.returncode == 0, restored.stderr
    assert "check_invariants: every promise holds" in restored.stderr

    checked = manage("check_invariants", database_url=url, card_key=card_key, tmp_path=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    report = json.loads(checked.stdout)
    assert report["violations"] == {} and "delivered_orders_with_wrong_key_count" in report["checked"]

    [(status, blob, product_id)] = pg_query(
        fresh_pg_database,
        "SELECT o.status, k.secret_encrypted, k.product_id FROM inventory_cardkey k"
        " JOIN orders_order o ON o.id = k.order_id WHERE k.id = %s AND o.order_no = %s",
        (sold.pk, order.order_no),
    )
    assert status == "delivered"
    with override_settings(KAMENG_CARD_KEY=card_key):
        secret = decrypt_secret(bytes(blob), product_id=product_id)
    assert secret in stock
    assert pg_query(
        fresh_pg_database, "SELECT count(*) FROM membership_membership WHERE status = 'active'"
    ) == [(1,)]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_restore_with_another_card_key_is_refused_before_the_database_is_touched(
    tmp_path, fresh_pg_database
):
    folder = make_backup(tmp_path / "dumps")
    other_key = base64.b64encode(secrets.token_bytes(32)).decode()

    refused = restore_into(fresh_pg_database, folder, tmp_path, card_key=other_key)

    assert refused.returncode == 1
    assert "wrong card key" in refused.stderr
    assert pg_tables(fresh_pg_database) == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_tampered_dump_is_refused_by_its_sha256(tmp_path, fresh_pg_database):
    folder = make_backup(tmp_path / "dumps")
    flip_a_byte(folder / "database.pgdump")

    refused = restore_into(fresh_pg_database, folder, tmp_path)

    assert refused.returncode == 1
    assert "SHA-256 mismatch" in refused.stderr
    assert pg_tables(fresh_pg_database) == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_restore_into_a_database_that_has_tables_is_refused(tmp_path, fresh_pg_database):
    folder = make_backup(tmp_path / "dumps")
    with psycopg.connect(**_pg_params(fresh_pg_database), autocommit=True) as conn:
        conn.execute("CREATE TABLE someone_elses (id int)")

    refused = restore_into(fresh_pg_database, folder, tmp_path)

    assert refused.returncode == 1
    assert "not empty" in refused.stderr
    assert pg_tables(fresh_pg_database) == ["someone_elses"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_force_replaces_what_a_non_empty_database_held(tmp_path, fresh_pg_database):
    folder = make_backup(tmp_path / "dumps")
    with psycopg.connect(**_pg_params(fresh_pg_database), autocommit=True) as conn:
        conn.execute("CREATE TABLE someone_elses (id int GENERATED ALWAYS AS IDENTITY)")

    restored = restore_into(fresh_pg_database, folder, tmp_path, "--force")

    assert restored.returncode == 0, restored.stderr
    tables = pg_tables(fresh_pg_database)
    assert "someone_elses" not in tables and "inventory_cardkey" in tables


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_force_replaces_an_earlier_restore_whose_audit_log_stays_append_only(tmp_path, fresh_pg_database):
    shop_with_a_sale_and_a_member()
    folder = make_backup(tmp_path / "dumps")
    assert restore_into(fresh_pg_database, folder, tmp_path).returncode == 0

    again = restore_into(fresh_pg_database, folder, tmp_path, "--force")

    assert again.returncode == 0, again.stderr
    with pytest.raises(psycopg.errors.RestrictViolation, match="append-only"):
        pg_query(fresh_pg_database, "DELETE FROM core_auditlog")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_manifest_describes_the_dump_from_the_same_snapshot(tmp_path):
    shop_with_a_sale_and_a_member()
    folder = make_backup(tmp_path / "dumps")

    manifest = json.loads((folder / "manifest.json").read_text())

    assert manifest["engine"] == "postgresql" and manifest["dump"]["file"] == "database.pgdump"
    assert manifest["dump"]["sha256"] == sha256_file(folder / "database.pgdump")
    assert manifest["counts"]["inventory.CardKey"] == CardKey.objects.count() == 4
    assert manifest["counts"]["membership.Membership"] == 1
    assert "0001_initial" in manifest["migrations"]["inventory"]
    assert manifest["dump"]["tool"].startswith("pg_dump (PostgreSQL)")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_row_committed_while_pg_dump_runs_is_in_neither_the_dump_nor_its_manifest(
    tmp_path, fresh_pg_database, monkeypatch
):
    UserFactory()
    real_run = dump_module.run_tool

    def commit_a_user():
        try:
            UserFactory()  # another connection, committed at once
        finally:
            connection.close()

    def pg_dump_after_a_commit(command, env):
        if "--format=custom" in command:
            writer = threading.Thread(target=commit_a_user)
            writer.start()
            writer.join()
        return real_run(command, env)

    monkeypatch.setattr(dump_module, "run_tool", pg_dump_after_a_commit)
    folder = make_backup(tmp_path / "dumps")
    users_now = User.objects.count()
    manifest = json.loads((folder / "manifest.json").read_text())

    assert manifest["counts"]["accounts.User"] == users_now - 1
    restored = restore_into(fresh_pg_database, folder, tmp_path)
    assert restored.returncode == 0, (
        restored.stderr
    )  # the restore compares its row counts with the manifest's
    assert pg_query(fresh_pg_database, "SELECT count(*) FROM accounts_user") == [(users_now - 1,)]


# --- SQLite: the online backup API --------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_sqlite_backup_round_trips_into_a_fresh_file(tmp_path, sqlite_suite):
    order, stock = shop_with_a_sale_and_a_member()
    sold = CardKey.objects.filter(order=order).order_by("pk").first()
    keys = export_keys(tmp_path)
    folder = make_backup(tmp_path / "dumps")
    card_key = read_keys_file(keys)["KAMENG_CARD_KEY"]
    target = tmp_path / "restored" / "kameng.sqlite3"
    target.parent.mkdir()
    url = f"sqlite:///{target}"

    restored = manage("restore", str(folder), database_url=url, card_key=card_key, tmp_path=tmp_path)
    assert restored.returncode == 0, restored.stderr

    checked = manage("check_invariants", database_url=url, card_key=card_key, tmp_path=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    with sqlite3.connect(target) as db:
        blob, product_id, order_no = db.execute(
            "SELECT k.secret_encrypted, k.product_id, o.order_no FROM inventory_cardkey k"
            " JOIN orders_order o ON o.id = k.order_id WHERE k.id = ?",
            (sold.pk,),
        ).fetchone()
        (members,) = db.execute(
            "SELECT count(*) FROM membership_membership WHERE status = 'active'"
        ).fetchone()
    assert order_no == order.order_no and members == 1
    with override_settings(KAMENG_CARD_KEY=card_key):
        assert decrypt_secret(bytes(blob), product_id=product_id) in stock


# --- either engine: keys, seal, where things go -------------------------------------------------------------------


@pytest.mark.django_db
def test_the_keys_file_is_mode_0600_warns_and_holds_the_keys_that_the_dumps_never_hold(tmp_path):
    stderr = StringIO()
    path = tmp_path / "vault" / "keys.env"
    path.parent.mkdir()

    call_command("backup", keys_to=path, stderr=stderr)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "APART from the database dumps" in stderr.getvalue()
    values = read_keys_file(path)
    assert values == {"KAMENG_CARD_KEY": settings.KAMENG_CARD_KEY, "DJANGO_SECRET_KEY": settings.SECRET_KEY}
    assert card_key_fingerprint(settings.KAMENG_CARD_KEY) in path.read_text()


@pytest.mark.django_db(transaction=True)
def test_a_backup_folder_holds_a_fingerprint_of_the_card_key_never_the_key(tmp_path):
    folder = make_backup(tmp_path / "dumps")

    assert {p.name for p in folder.iterdir()} == {"manifest.json", backups.DUMP_FILES[connection.vendor]}
    raw_key = base64.b64decode(settings.KAMENG_CARD_KEY)
    for path in folder.iterdir():
        content = path.read_bytes()
        assert settings.KAMENG_CARD_KEY.encode() not in content and raw_key not in content
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["card_key_fingerprint"] == card_key_fingerprint(settings.KAMENG_CARD_KEY)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


@pytest.mark.django_db
def test_keys_are_never_written_into_the_backup_folder(tmp_path):
    with pytest.raises(CommandError, match="apart from the dumps"):
        call_command("backup", out=tmp_path / "dumps", keys_to=tmp_path / "dumps" / "keys.env")
    assert not (tmp_path / "dumps" / "keys.env").exists()


def test_backups_are_never_written_into_the_instance_folder_that_holds_the_card_key(tmp_path):
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "card_key").write_text(settings.KAMENG_CARD_KEY)

    with override_settings(INSTANCE_DIR=instance), pytest.raises(CommandError, match="beside its key"):
        call_command("backup", out=instance / "backups")
    assert not (instance / "backups").exists()


@pytest.mark.django_db(transaction=True)
def test_a_dump_altered_together_with_its_manifest_sha256_is_refused_by_the_seal(tmp_path):
    folder = make_backup(tmp_path / "dumps")
    dump = folder / backups.DUMP_FILES[connection.vendor]
    flip_a_byte(dump)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["dump"]["sha256"] = sha256_file(dump)
    (folder / "manifest.json").write_text(json.dumps(manifest))

    with pytest.raises(CommandError, match="does not match its seal"):
        call_command("restore", folder, verify_only=True, stderr=StringIO())
