"""Kameng's settings, read once from the environment and split by concern (docs/configuration.md lists them all).

One settings module serves both profiles, chosen by KAMENG_ENV: embedded (the default: SQLite and generated secrets
in the instance folder, the sandbox gateway on, Celery over a folder-backed queue) and production (every secret and
the shared broker from the environment, HTTPS only, the sandbox off unless KAMENG_SANDBOX=1). What differs in
production is decided inside each concern's module, beside the settings it changes. The test suite runs on
config.settings.test, which starts from these.

Importing settings only reads: config.instance.prepare, run by each entry point, writes what the embedded set-up
generates for itself. No concern overrides another's settings, so their order here does not matter: each reads
the profile and the folders from base.
"""

from config.settings.base import *  # noqa: F403
from config.settings.celery import *  # noqa: F403
from config.settings.channels import *  # noqa: F403
from config.settings.database import *  # noqa: F403
from config.settings.email import *  # noqa: F403
from config.settings.logging import *  # noqa: F403
from config.settings.security import *  # noqa: F403
from config.settings.shop import *  # noqa: F403
