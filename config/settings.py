"""Kameng settings, read from the environment.

KAMENG_ENV=embedded (default): SQLite in the instance folder, secrets generated there, sandbox gateway on, Celery on a
filesystem broker (no extra service). KAMENG_ENV=production: every secret must come from the environment and the
sandbox is off unless KAMENG_SANDBOX=1.
"""

import os
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from config.env import env_bool, env_int, instance_secret

BASE_DIR = Path(__file__).resolve().parent.parent
INSTANCE_DIR = Path(os.environ.get("KAMENG_INSTANCE_DIR", BASE_DIR / "instance")).resolve()
INSTANCE_DIR.mkdir(parents=True, exist_ok=True)

KAMENG_ENV = os.environ.get("KAMENG_ENV", "embedded")
PRODUCTION = KAMENG_ENV == "production"

SECRET_KEY = instance_secret(
    INSTANCE_DIR, "secret_key", production=PRODUCTION, env_name="DJANGO_SECRET_KEY", nbytes=48
)
DEBUG = env_bool("DJANGO_DEBUG", False)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DJANGO_DEBUG must be off in production: it shows secrets in error pages")
_default_hosts = "" if PRODUCTION else "127.0.0.1,localhost,testserver"
ALLOWED_HOSTS = [h for h in os.environ.get("DJANGO_ALLOWED_HOSTS", _default_hosts).split(",") if h]
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must name the shop's host names in production")
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",  # serves the API docs page's Swagger UI from our static files, not a CDN
    "csp",
    "kameng.core",
    "kameng.accounts",
    "kameng.catalog",
    "kameng.inventory",
    "kameng.orders",
    "kameng.payments",
    "kameng.sandbox",
    "kameng.membership",
    "kameng.notifications",
    "kameng.support",
    "kameng.helpcenter",
    "kameng.console",
]

MIDDLEWARE = [
    "kameng.core.metrics.RequestMetrics",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "kameng.core.middleware.RejectNulCharacters",
    "kameng.core.middleware.DatabaseUnavailable",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "kameng.core.context_processors.site",
                "kameng.notifications.context_processors.inbox",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{INSTANCE_DIR / 'kameng.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        # A kept connection is checked before a request reuses it: a database restart costs no failed request.
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions take SQLite's write lock up front, so two writers queue instead of failing midway.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "catalog:home"
LOGOUT_REDIRECT_URL = "catalog:home"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = INSTANCE_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
# Uploaded files (ticket screenshots) live outside the web root and are served only through permission checks.
MEDIA_ROOT = Path(os.environ.get("KAMENG_PRIVATE_MEDIA", INSTANCE_DIR / "private"))
MEDIA_URL = "/_private/"  # never routed: files are served only by views that check permissions
KAMENG_MAX_ATTACHMENT_BYTES = env_int("KAMENG_MAX_ATTACHMENT_BYTES", 5 * 1024 * 1024)
STATICFILES_DIRS = [BASE_DIR / "static"]

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# The same policy in every set-up, so the page tests prove the pages work under it: nothing inline without the
# request's nonce, nothing from another origin. Forms may end at the payment channels' cashiers (a redirect after
# POST counts as the form's target).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [
            SELF,
            "https://*.alipay.com",
            "https://*.alipaydev.com",
            "https://*.tenpay.com",
            "https://*.weixin.qq.com",
        ],
    }
}
if PRODUCTION:
    # TLS ends at the reverse proxy, which says so in X-Forwarded-Proto (and must strip it from clients).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("KAMENG_SSL_REDIRECT", True)
    # Probes and scrapes come over plain HTTP from inside the network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    SECURE_HSTS_SECONDS = env_int("KAMENG_HSTS_SECONDS", 365 * 24 * 3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("KAMENG_HSTS_INCLUDE_SUBDOMAINS", True)
    # Preloading is a commitment browsers keep for months: the operator opts in, the deploy check does not nag.
    SECURE_HSTS_PRELOAD = env_bool("KAMENG_HSTS_PRELOAD", False)
    SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
    SESSION_COOKIE_SECURE = env_bool("KAMENG_SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# --- Kameng -----------------------------------------------------------------------------------------------------
# The sandbox gateway plays Alipay and WeChat Pay; it must never be reachable in production unless asked for.
KAMENG_SANDBOX = env_bool("KAMENG_SANDBOX", not PRODUCTION)
# Fault injection at the sandbox gateway (see kameng.sandbox.faults); all off unless asked for.
KAMENG_SANDBOX_FAULT_RATE = float(os.environ.get("KAMENG_SANDBOX_FAULT_RATE") or 0)
KAMENG_SANDBOX_FAULT_DELAY = float(os.environ.get("KAMENG_SANDBOX_FAULT_DELAY") or 0)
KAMENG_SANDBOX_LATENCY_MS = env_int("KAMENG_SANDBOX_LATENCY_MS", 0)
KAMENG_PUBLIC_URL = os.environ.get("KAMENG_PUBLIC_URL", f"http://127.0.0.1:{os.environ.get('PORT', '8000')}")
# AES-256-GCM key for card secrets at rest (base64 of 32 bytes).
KAMENG_CARD_KEY = instance_secret(
    INSTANCE_DIR, "card_key", production=PRODUCTION, env_name="KAMENG_CARD_KEY", nbytes=32
)
KAMENG_ORDER_TTL_SECONDS = env_int("KAMENG_ORDER_TTL_SECONDS", 15 * 60)
KAMENG_MAX_ORDER_QUANTITY = env_int("KAMENG_MAX_ORDER_QUANTITY", 50)
KAMENG_LOGIN_MAX_FAILURES = env_int("KAMENG_LOGIN_MAX_FAILURES", 5)
KAMENG_LOGIN_WINDOW_SECONDS = env_int("KAMENG_LOGIN_WINDOW_SECONDS", 15 * 60)
KAMENG_IMPORT_MAX_BYTES = env_int("KAMENG_IMPORT_MAX_BYTES", 2 * 1024 * 1024)
KAMENG_IMPORT_MAX_LINES = env_int("KAMENG_IMPORT_MAX_LINES", 20_000)
# Calls between the shop and the sandbox gateway go through the WSGI handler in-process instead of a socket; tests
# use this because no server listens while they run.
KAMENG_HTTP_INPROCESS = env_bool("KAMENG_HTTP_INPROCESS", False)
# Seconds the shop waits for a channel (and the sandbox for the shop) before the outcome counts as unknown.
KAMENG_HTTP_TIMEOUT = float(os.environ.get("KAMENG_HTTP_TIMEOUT") or 10)

# --- Celery -----------------------------------------------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
if PRODUCTION and not CELERY_BROKER_URL:
    raise ImproperlyConfigured(
        "CELERY_BROKER_URL must name the broker every node shares (redis://…) in production"
    )
if not CELERY_BROKER_URL:
    # Embedded: a real worker over a folder-backed queue, so `make run` needs no broker service.
    _queue = INSTANCE_DIR / "celery-queue"
    for _sub in ("out", "processed", "control"):
        (_queue / _sub).mkdir(parents=True, exist_ok=True)
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

# Metrics: who may scrape /metrics without the token (never through the proxy: see kameng.core.metrics).
KAMENG_METRICS_ALLOW = [
    n for n in os.environ.get("KAMENG_METRICS_ALLOW", "127.0.0.1/32,::1/128").split(",") if n
]
KAMENG_METRICS_TOKEN = os.environ.get("KAMENG_METRICS_TOKEN", "")

# Logs: one JSON object per line in production (KAMENG_LOG_FORMAT=json|plain), one line per request if asked.
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
            "formatter": os.environ.get("KAMENG_LOG_FORMAT", "json" if PRODUCTION else "plain"),
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("KAMENG_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# E-mail: SMTP when EMAIL_HOST is set (production); otherwise mail is written as files under instance/mail so the
# embedded set-up works offline. Mail goes out through the outbox: a failing server delays it, never loses it.
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "卡盟 Kameng <noreply@kameng.local>")
if os.environ.get("EMAIL_HOST"):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = os.environ["EMAIL_HOST"]
    EMAIL_PORT = env_int("EMAIL_PORT", 25)
    EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
    EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
    EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = INSTANCE_DIR / "mail"
# Text messages: any class with send(phone, text); the console backend is the only one shipped.
KAMENG_SMS_BACKEND = os.environ.get("KAMENG_SMS_BACKEND", "kameng.notifications.sms.ConsoleSmsBackend")
