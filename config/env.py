"""Reading configuration from the environment, with instance-folder secrets for the embedded set-up.

The embedded set-up (the default) must run on a fresh machine with no configuration at all, so missing secrets are
generated once into the instance folder. Production (KAMENG_ENV=production) refuses to start without them.
"""

import base64
import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = {"1", "true", "yes", "on"}


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None or value == "" else value.strip().lower() in TRUE_WORDS


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


def instance_secret(
    instance_dir: Path, filename: str, *, production: bool, env_name: str, nbytes: int
) -> str:
    """A secret from the environment, else from (or generated into) the instance folder."""
    value = os.environ.get(env_name, "").strip()
    if value:
        return value
    if production:
        raise ImproperlyConfigured(f"{env_name} must be set in production")
    path = instance_dir / filename
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(base64.b64encode(secrets.token_bytes(nbytes)).decode())
    return path.read_text().strip()
