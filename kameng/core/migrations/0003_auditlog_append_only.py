"""The audit log is append-only in the database itself, not only in the model: raw SQL and queryset update() are
refused too. PostgreSQL refuses UPDATE and DELETE with a trigger; TRUNCATE (how a test database is emptied between
transactional tests, and what no code path of ours issues) fires no row trigger. SQLite refuses UPDATE with a
trigger; DELETE is left to the model's guard there, because SQLite empties a test database with DELETE FROM."""

from django.db import migrations

MESSAGE = "audit log rows are append-only"

POSTGRESQL = f"""
CREATE FUNCTION core_auditlog_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '{MESSAGE}: % refused', TG_OP USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER core_auditlog_append_only BEFORE UPDATE OR DELETE ON core_auditlog
    FOR EACH ROW EXECUTE FUNCTION core_auditlog_append_only();
"""
POSTGRESQL_REVERSE = """
DROP TRIGGER core_auditlog_append_only ON core_auditlog;
DROP FUNCTION core_auditlog_append_only();
"""
SQLITE = f"""
CREATE TRIGGER core_auditlog_append_only BEFORE UPDATE ON core_auditlog
BEGIN
    SELECT RAISE(ABORT, '{MESSAGE}: UPDATE refused');
END;
"""
SQLITE_REVERSE = "DROP TRIGGER core_auditlog_append_only;"


def _run(forward: bool):
    def run(apps, schema_editor):
        sql = {
            "postgresql": POSTGRESQL if forward else POSTGRESQL_REVERSE,
            "sqlite": SQLITE if forward else SQLITE_REVERSE,
        }.get(schema_editor.connection.vendor)
        if sql:
            schema_editor.execute(sql, params=None)  # the PL/pgSQL body has a literal %

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0002_sweep_stat"),
    ]

    operations = [migrations.RunPython(_run(forward=True), _run(forward=False), elidable=False)]
