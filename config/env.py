"""Reading the environment: the only module that looks at os.environ for the shop's settings.

Every reader only reads. What the embedded set-up generates for itself (secrets, folders) is written by
config.instance.prepare, which each entry point runs before Django reads its settings.
"""

import os
from pathlib import Path

TRUE_WORDS = {"1", "true", "yes", "on"}
BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None or value == "" else value.strip().lower() in TRUE_WORDS


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name, "")
    return float(value) if value.strip() else default


def env_list(name: str, default: str = "") -> list[str]:
    """A comma-separated list; empty items are dropped."""
    return [item for item in os.environ.get(name, default).split(",") if item]


def env_secret(name: str) -> str:
    """NAME, or the contents of the file named by NAME_FILE (keys mounted as files, e.g. PEM keys)."""
    value = os.environ.get(name, "")
    file_name = os.environ.get(f"{name}_FILE", "")
    if not value and file_name:
        value = Path(file_name).read_text()
    return value


def is_production() -> bool:
    return os.environ.get("KAMENG_ENV", "embedded") == "production"


def instance_dir() -> Path:
    """The folder of this installation's state: SQLite database, generated secrets, static files, mail."""
    return Path(os.environ.get("KAMENG_INSTANCE_DIR", BASE_DIR / "instance")).resolve()
