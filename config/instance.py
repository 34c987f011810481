"""The instance folder, and the one step that writes it: prepare().

The embedded set-up runs on a fresh machine with no configuration at all, so the secrets it lacks are generated
once into the instance folder, with the folders it works in. Settings only read that folder: importing them writes
nothing. prepare() is run by each entry point before Django reads its settings — manage.py, config.wsgi (gunicorn)
and the Celery app (config.celery) — so whichever starts first on a fresh clone leaves the folder ready for the
others. Production (KAMENG_ENV=production) takes its secrets from the environment only; prepare() generates none.
"""

import base64
import contextlib
import os
import secrets
import tempfile
from pathlib import Path

from config import env

# The environment variable of each secret the embedded set-up may generate: (its file in the instance folder, bytes).
GENERATED_SECRETS = {"DJANGO_SECRET_KEY": ("secret_key", 48), "KAMENG_CARD_KEY": ("card_key", 32)}
STATIC_FOLDER = "staticfiles"
# The embedded Celery broker: a real worker over folders, so `make run` needs no broker service.
QUEUE_FOLDER = "celery-queue"
QUEUE_SUBFOLDERS = ("out", "processed", "control")


def generated_secret(env_name: str) -> str:
    """The secret prepare() generated for env_name, or "" while it has not run in this instance folder."""
    path = env.instance_dir() / GENERATED_SECRETS[env_name][0]
    return path.read_text().strip() if path.exists() else ""


def prepare() -> None:
    """Creates the instance folder's sub-folders and, in the embedded set-up, the secrets the environment lacks.

    Idempotent and safe for several processes starting at once: each secret is written once, so every process
    of the installation reads the same one.
    """
    folder = env.instance_dir()
    (folder / STATIC_FOLDER).mkdir(parents=True, exist_ok=True)
    if not env.env_str("CELERY_BROKER_URL"):
        for sub in QUEUE_SUBFOLDERS:
            (folder / QUEUE_FOLDER / sub).mkdir(parents=True, exist_ok=True)
    if env.is_production():
        return
    for env_name, (filename, nbytes) in GENERATED_SECRETS.items():
        if not env.env_str(env_name).strip():
            _generate_once(folder / filename, nbytes)


def _generate_once(path: Path, nbytes: int) -> None:
    if path.exists():
        return
    # Written whole under a temporary name, then linked into place: linking fails if another process got there
    # first (its secret stands), and no process ever reads half a secret.
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(base64.b64encode(secrets.token_bytes(nbytes)).decode())
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        os.unlink(temporary)
