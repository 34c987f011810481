"""The database: PostgreSQL in production (DATABASE_URL), SQLite in the instance folder otherwise."""

import dj_database_url

from config.env import env_int, env_str
from config.settings.base import INSTANCE_DIR

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL") or f"sqlite:///{INSTANCE_DIR / 'kameng.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        # A kept connection is checked before a request reuses it: a database restart costs no failed request.
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions take SQLite's write lock up front, so two writers queue instead of failing midway.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
# Where backup and restore find pg_dump / pg_restore; unset: the newest of Debian's postgresql-client, else PATH.
KAMENG_PG_BINDIR = env_str("KAMENG_PG_BINDIR").strip()
