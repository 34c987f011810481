"""gunicorn settings for `make serve-prod`; every value can be overridden from the environment."""

import multiprocessing
import os

bind = os.environ.get("KAMENG_BIND", f"127.0.0.1:{os.environ.get('PORT', '8000')}")
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * multiprocessing.cpu_count()))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
backlog = 2048
max_requests = 10_000  # recycle workers now and then; the jitter keeps them from restarting together
max_requests_jitter = 1_000
accesslog = None  # the shop logs each request itself, as JSON (kameng.request)
errorlog = "-"
# The reverse proxy's address: only it may say which client and scheme a request came from.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def child_exit(server, worker):
    # A dead worker's gauges leave the shared metrics directory with it.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
