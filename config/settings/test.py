"""The test suite's settings (pyproject's DJANGO_SETTINGS_MODULE): the embedded profile with what a test run needs.

Which services a run uses still comes from the environment (DATABASE_URL, CELERY_BROKER_URL, KAMENG_INSTANCE_DIR:
tests/run.sh sets them). Processes a test starts (a Celery worker, manage.py) run the deployed config.settings
instead, with this run's secrets passed in their environment (conftest.py, `kameng_process_env`).
"""

from config.settings import *  # noqa: F403

# Fixed secrets: a test run neither needs nor writes the generated SECRET_KEY and card key (the sandbox still writes
# its channel keys to the instance folder when Django starts with the sandbox on: see config/settings/channels.py).
SECRET_KEY = "test-only-secret-key-never-used-outside-the-test-suite-" + "k" * 16
KAMENG_CARD_KEY = "dGVzdC1vbmx5LWNhcmQta2V5LTMyLWJ5dGVzLWxvbmc="  # base64 of 32 bytes

# The sandbox plays both channels, and the shop reaches it through the WSGI handler: no server listens in a test.
KAMENG_SANDBOX = True
KAMENG_HTTP_INPROCESS = True
# Tasks run where they are queued; the tests that need a real worker turn this off for their run.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True

EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Nothing is collected for a test run: the live server serves static files from the finders.
STATIC_ROOT = None
