"""Celery: a shared broker in production (CELERY_BROKER_URL), a folder-backed queue in the instance otherwise."""

from django.core.exceptions import ImproperlyConfigured

from config import instance
from config.env import env_bool, env_str
from config.settings.base import INSTANCE_DIR, PRODUCTION, TIME_ZONE

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
if PRODUCTION and not CELERY_BROKER_URL:
    raise ImproperlyConfigured(
        "CELERY_BROKER_URL must name the broker every node shares (redis://…) in production"
    )
if not CELERY_BROKER_URL:
    # Embedded: a real worker over a folder-backed queue, so `make run` needs no broker service. The folders are
    # made by config.instance.prepare.
    _queue = INSTANCE_DIR / instance.QUEUE_FOLDER
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue / "out"),
        "data_folder_out": str(_queue / "out"),
        "processed_folder": str(_queue / "processed"),
        "control_folder": str(_queue / "control"),  # exchange tables; kombu's default is ./control in the cwd
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    "run-due-sweeps": {"task": "kameng.core.tasks.run_due_sweeps", "schedule": 10.0},
}
