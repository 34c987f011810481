import os

from celery import Celery
from django.conf import settings

from config import instance

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("kameng")


@app.on_configure.connect
def _prepare_instance(**kwargs) -> None:
    # A worker or beat started on its own reads Django's settings through this app, so the instance folder must be
    # ready first. Where Django came first (manage.py, gunicorn, the tests), its entry point has seen to it.
    if not settings.configured:
        instance.prepare()


app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
