"""Logs: one JSON object per line in production, plain lines otherwise; one line per request if asked."""

from config.env import env_bool, env_str
from config.settings.base import PRODUCTION

KAMENG_LOG_REQUESTS = env_bool("KAMENG_LOG_REQUESTS", PRODUCTION)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "kameng.core.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": env_str("KAMENG_LOG_FORMAT", "json" if PRODUCTION else "plain"),
        }
    },
    "root": {"handlers": ["console"], "level": env_str("KAMENG_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
