"""The encryption keys: exported apart from the dumps, named in manifests by a fingerprint, sealing them."""

import base64
import hashlib
import hmac
import json
import os
import textwrap
from pathlib import Path

from django.conf import settings

from kameng.core import clock
from kameng.core.backups import KEYS_WARNING, BackupError, Log, quiet


def _master(card_key_b64: str) -> bytes:
    try:
        master = base64.b64decode(card_key_b64, validate=True)
    except ValueError:
        master = b""
    if len(master) != 32:
        raise BackupError("KAMENG_CARD_KEY must be base64 of 32 bytes")
    return master


def card_key_fingerprint(card_key_b64: str) -> str:
    """Names the key without revealing it: an HMAC under the key of a fixed label (never the key's own hash)."""
    digest = hmac.new(_master(card_key_b64), b"kameng backup card-key fingerprint v1", hashlib.sha256)
    return "hmac-sha256:" + digest.hexdigest()


def seal(manifest: dict, card_key_b64: str) -> str:
    seal_key = hmac.new(_master(card_key_b64), b"kameng backup manifest seal v1", hashlib.sha256).digest()
    body = {k: v for k, v in manifest.items() if k != "seal"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return hmac.new(seal_key, canonical, hashlib.sha256).hexdigest()


def export_keys(path: Path, *, log: Log = quiet) -> Path:
    """Writes KAMENG_CARD_KEY and DJANGO_SECRET_KEY to a new file, mode 0600, as an environment file
    (`set -a; . FILE; set +a`, or systemd's EnvironmentFile=). Never overwrites an existing file."""
    path = Path(path).resolve()
    fingerprint = card_key_fingerprint(settings.KAMENG_CARD_KEY)
    text = "\n".join(
        [
            f"# Kameng encryption keys, exported {clock.now().isoformat()} by `manage.py backup --keys-to`.",
            *(f"# {line}" for line in textwrap.wrap(KEYS_WARNING, 100)),
            "# Restore: load this file into the environment of `manage.py restore` and of the shop.",
            f"# card key fingerprint (as in each backup's manifest): {fingerprint}",
            f"KAMENG_CARD_KEY='{settings.KAMENG_CARD_KEY}'",
            f"DJANGO_SECRET_KEY='{_shell_safe(settings.SECRET_KEY)}'",
            "",
        ]
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise BackupError(f"{path} exists; the keys are never written over an existing file") from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(text)
    log(f"keys written to {path} (mode 0600)")
    log(KEYS_WARNING)
    return path


def read_keys_file(path: Path) -> dict[str, str]:
    """The variables of a keys file, as `export_keys` wrote them."""
    values = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.partition("=")
        values[name.strip()] = value.strip().removeprefix("'").removesuffix("'").replace("'\\''", "'")
    return values


def _shell_safe(value: str) -> str:
    return value.replace("'", "'\\''")
