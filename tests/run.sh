#!/usr/bin/env bash
# The whole suite, twice in parallel: on SQLite (the embedded default) and on PostgreSQL (production, and the only
# place row locks and SKIP LOCKED are real). PostgreSQL- and Redis-marked tests are required when CI=true.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
# How tests run (in-process HTTP, eager tasks, fixed secrets) is in config/settings/test.py; this picks the services.
: "${TEST_DATABASE_URL:=postgres://postgres@127.0.0.1:5432/test}"
logs=$(mktemp -d)

KAMENG_INSTANCE_DIR="$logs/sqlite-instance" $PY -m pytest -q -m "not postgres and not redis" \
  >"$logs/sqlite.log" 2>&1 &
sqlite_pid=$!
KAMENG_INSTANCE_DIR="$logs/pg-instance" DATABASE_URL="$TEST_DATABASE_URL" \
  CELERY_BROKER_URL="${CELERY_BROKER_URL:-redis://127.0.0.1:6379/15}" $PY -m pytest -q \
  >"$logs/postgres.log" 2>&1 &
pg_pid=$!

wait $sqlite_pid; sqlite_rc=$?
wait $pg_pid; pg_rc=$?
echo "=== SQLite suite (exit $sqlite_rc) ==="; tail -n 40 "$logs/sqlite.log"
echo "=== PostgreSQL + Redis suite (exit $pg_rc) ==="; tail -n 40 "$logs/postgres.log"
[ $sqlite_rc -eq 0 ] && [ $pg_rc -eq 0 ]
