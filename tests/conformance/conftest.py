"""The conformance suite's server: the shop and its sandbox gateway under gunicorn, as `make run` serves them, on a
free loopback port, sharing this test's PostgreSQL database and instance folder (keys included). Third-party SDKs
talk to it over real HTTP; nothing in-process answers for it.

Celery tasks run eagerly inside gunicorn (CELERY_TASK_ALWAYS_EAGER=1), so a sandbox notification is delivered to
the shop over HTTP as soon as the call that caused it has committed.
"""

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def gunicorn_server(kameng_process_env, worker_database_url, settings, transactional_db) -> str:
    """The base URL of a gunicorn serving the shop and the sandbox; the test process's channels point at it."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **kameng_process_env,
        "DATABASE_URL": worker_database_url,
        "KAMENG_PUBLIC_URL": base,
        "KAMENG_SANDBOX": "1",
        "KAMENG_HTTP_INPROCESS": "0",
        "CELERY_TASK_ALWAYS_EAGER": "1",
    }
    server = subprocess.Popen(  # noqa: S603 (our own interpreter, fixed arguments)
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--threads",
            "4",
            "--timeout",
            "60",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as reply:  # noqa: S310 (loopback)
                if reply.status == 200:
                    break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                output = server.communicate(timeout=5)[0].decode(errors="replace")
                pytest.fail(f"gunicorn did not start:\n{output[-4000:]}")
            time.sleep(0.2)
    settings.KAMENG_PUBLIC_URL = base
    settings.KAMENG_HTTP_INPROCESS = False
    try:
        yield base
    finally:
        server.terminate()
        output = server.communicate(timeout=20)[0].decode(errors="replace")
    assert "Traceback" not in output, output[-4000:]
