"""What the benchmarks share: a fresh PostgreSQL database, gunicorn on loopback, timed parallel requests, reports.

Only 127.0.0.1 is contacted; every request has a timeout. A benchmark database is dropped and made anew on each
run, so only names starting with `kameng_` are accepted.
"""

import base64
import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import requests

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
RESULTS = ROOT / "bench" / "results"


def percentile(values: list[float], pct: float) -> float:
    """The pct-th percentile of latencies in seconds, in milliseconds (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))] * 1000


def default_workers() -> int:
    """gunicorn's sync workers: two per core, as bench/checkout.py has always measured (4 on 2 cores)."""
    return 2 * (os.cpu_count() or 2)


def manage(env: dict, *args: str, stdin: bytes | None = None) -> str:
    done = subprocess.run(
        [PY, "manage.py", *args], cwd=ROOT, env=env, check=False, input=stdin, capture_output=True
    )
    if done.returncode != 0:
        sys.stderr.write(done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace"))
        raise subprocess.CalledProcessError(done.returncode, ["manage.py", *args])
    return done.stdout.decode(errors="replace")


def pg_server() -> str:
    """The PostgreSQL server of DATABASE_URL (default the local one), without a database name."""
    return os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test").rsplit("/", 1)[0]


def fresh_database(name: str) -> str:
    """Drops and creates database `name` on the local server; returns its URL."""
    if not name.startswith("kameng_") or not name.replace("_", "").isalnum():
        raise SystemExit(f"refusing to recreate database {name!r}: bench databases are named kameng_…")
    admin = f"{pg_server()}/postgres"
    subprocess.run(["psql", admin, "-qc", f"DROP DATABASE IF EXISTS {name}"], check=True, capture_output=True)
    subprocess.run(["psql", admin, "-qc", f"CREATE DATABASE {name}"], check=True, capture_output=True)
    return f"{pg_server()}/{name}"


def server_env(*, database_url: str, port: int, instance: str) -> dict:
    """The production profile (KAMENG_ENV=production, as `make serve-prod` runs it) on loopback: secrets from the
    environment (fresh for each run), no debug, persistent connections, the sandbox gateway on and reached over
    HTTP as a channel is. Plain HTTP on loopback, so no TLS redirect and no Secure-only cookies, and the per-member
    order limits raised out of reach: the only production settings a benchmark changes."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",  # also when the load test runs under pytest
        "KAMENG_ENV": "production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(48),
        "KAMENG_CARD_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",  # testserver: the in-process seeding
        "KAMENG_SSL_REDIRECT": "0",
        "KAMENG_SECURE_COOKIES": "0",
        "DATABASE_URL": database_url,
        "KAMENG_INSTANCE_DIR": instance,
        "KAMENG_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "KAMENG_SANDBOX": "1",
        "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL") or "redis://127.0.0.1:6379/14",
        "KAMENG_LOG_LEVEL": "WARNING",
        "DATABASE_CONN_MAX_AGE": "600",
        "KAMENG_HTTP_INPROCESS": "0",
        # A benchmark's few buyers place thousands of orders, paid later: the per-member limits stay counted
        # (their cost is measured) but never bind.
        "KAMENG_MAX_UNPAID_ORDERS": "1000000",
        "KAMENG_MAX_RESERVED_KEYS": "1000000",
        "KAMENG_RATE_ORDERS": "1000000/60",
    }


def django_setup(env: dict) -> None:
    """Sets Django up in this process on the benchmark's database (once per process)."""
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def start_gunicorn(env: dict, *, port: int, workers: int, threads: int = 1) -> subprocess.Popen:
    """gunicorn on 127.0.0.1:port, returned once GET /healthz answers."""
    metrics = Path(env["KAMENG_INSTANCE_DIR"]) / "prometheus"  # as `make serve-prod` sets it up
    shutil.rmtree(metrics, ignore_errors=True)
    metrics.mkdir(parents=True)
    proc = subprocess.Popen(
        [
            str(Path(PY).parent / "gunicorn"),
            "-c",
            "config/gunicorn.py",
            "config.wsgi",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={
            **env,
            "KAMENG_BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": str(workers),
            "GUNICORN_THREADS": str(threads),
            "PROMETHEUS_MULTIPROC_DIR": str(metrics),
        },
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(150):
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited with {proc.returncode} (is port {port} free?)")
        try:
            if requests.get(f"{base}/healthz", timeout=5).ok:
                return proc
        except requests.RequestException:
            pass
        time.sleep(0.2)
    stop(proc)
    raise SystemExit("gunicorn did not answer /healthz within 30 s")


def stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def run_parallel(fn, items: Iterable, concurrency: int) -> tuple[float, list[float], int]:
    """Runs fn(session, item) over items with `concurrency` threads, each with its own keep-alive session.
    Returns the elapsed seconds, every call's latency in seconds, and the number of calls that returned falsy."""
    local = threading.local()
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()

    def call(item):
        nonlocal errors
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        began = time.perf_counter()
        ok = fn(session, item)
        spent = time.perf_counter() - began
        with lock:
            latencies.append(spent)
            errors += not ok

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(call, items))
    return time.perf_counter() - started, latencies, errors


def run_for(
    fn: Callable[[requests.Session, int], bool],
    *,
    seconds: float,
    concurrency: int,
    sessions: list[requests.Session] | None = None,
) -> tuple[float, list[float], int]:
    """Closed loop: `concurrency` clients each call fn(session, client_index) back to back for `seconds`.
    Client i uses sessions[i] when given (e.g. logged in), else a fresh session. Same answer as run_parallel."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def client(index: int) -> None:
        nonlocal errors
        session = sessions[index] if sessions else requests.Session()
        mine: list[float] = []
        failed = 0
        while time.perf_counter() < deadline:
            began = time.perf_counter()
            try:
                ok = fn(session, index)
            except requests.RequestException:
                ok = False
            mine.append(time.perf_counter() - began)
            failed += not ok
        with lock:
            latencies.extend(mine)
            errors += failed

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started, latencies, errors


def alipay_paid_notification(order_no: str, amount_fen: int, private_key_pem: str, app_id: str) -> str:
    """The body of Alipay's signed `trade_status_sync` TRADE_SUCCESS notification for an order, exactly as the
    sandbox gateway sends it (signed with the sandbox's Alipay key), form-encoded."""
    from kameng.protocols import alipay as alipay_protocol

    yuan, fen = divmod(amount_fen, 100)
    return urlencode(
        alipay_protocol.sign_notification(
            {
                "notify_id": f"N{order_no}",
                "notify_type": "trade_status_sync",
                "notify_time": time.strftime("%Y-%m-%d %H:%M:%S"),
                "charset": "utf-8",
                "version": "1.0",
                "app_id": app_id,
                "trade_no": f"T{order_no}",
                "out_trade_no": order_no,
                "trade_status": "TRADE_SUCCESS",
                "total_amount": f"{yuan}.{fen:02d}",
            },
            private_key_pem,
        )
    )


def save_report(name: str, report: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    return path


class ForeignLoad:
    """Measures how much CPU other work on the machine took while a benchmark ran (Linux /proc).

    Every second it reads each process's CPU time; processes descending from this one are the benchmark's own,
    `postgres` processes are the database's (ours or not: it cannot tell), the rest are foreign: another test
    suite, say. `cores` is the foreign CPU time divided by the wall time: 0.5 means half a core went elsewhere.
    """

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self.foreign_ticks = 0
        self.started = 0.0
        self.elapsed = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _snapshot() -> dict[int, tuple[int, str, int]]:
        found = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                raw = (entry / "stat").read_text()
            except OSError:
                continue
            comm = raw[raw.index("(") + 1 : raw.rindex(")")]
            fields = raw[raw.rindex(")") + 2 :].split()
            found[int(entry.name)] = (int(fields[1]), comm, int(fields[11]) + int(fields[12]))
        return found

    def _foreign(self, snap: dict[int, tuple[int, str, int]], pid: int) -> bool:
        me, seen = os.getpid(), 0
        if snap[pid][1] == "postgres":
            return False
        while pid in snap and seen < 64:
            if pid == me:
                return False
            pid, seen = snap[pid][0], seen + 1
        return True

    def _run(self) -> None:
        before = self._snapshot()
        while not self._stop.wait(self.interval):
            now = self._snapshot()
            for pid, (_, _, ticks) in now.items():
                if pid in before and self._foreign(now, pid):
                    self.foreign_ticks += max(0, ticks - before[pid][2])
            before = now

    def __enter__(self) -> "ForeignLoad":
        self.started = time.perf_counter()
        if Path("/proc/self/stat").exists():
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.elapsed = time.perf_counter() - self.started

    @property
    def cores(self) -> float:
        return round(self.foreign_ticks / os.sysconf("SC_CLK_TCK") / max(self.elapsed, 1e-9), 2)
