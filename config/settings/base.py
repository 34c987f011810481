"""The application itself: apps, middleware, templates, languages and time, where files live, the profile."""

from pathlib import Path

from django.utils.translation import gettext_lazy as _

from config import instance
from config.env import BASE_DIR, env_str, instance_dir, is_production

INSTANCE_DIR = instance_dir()
KAMENG_ENV = env_str("KAMENG_ENV", "embedded")
PRODUCTION = is_production()

INSTALLED_APPS = [
    "config.apps.AdminConfig",  # django.contrib.admin with the shop's site (kameng.accounts.admin_site)
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
    "kameng.core.client.ClientAddressMiddleware",
    "kameng.core.metrics.RequestMetrics",
    # Each request reads the sandbox test clock's offset at most once, and afresh (kameng.core.clock).
    "kameng.core.clock.ClockPerRequest",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "kameng.core.middleware.RejectNulCharacters",
    "kameng.core.middleware.DatabaseUnavailable",
    "kameng.core.middleware.ApiMethodNotAllowed",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "kameng.accounts.middleware.LoginRefusal",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, so that on the way out it runs first: before SessionMiddleware saves what it wrote in the session.
    "kameng.accounts.activity.SessionActivity",
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

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
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
STATIC_ROOT = INSTANCE_DIR / instance.STATIC_FOLDER
STATICFILES_DIRS = [BASE_DIR / "static"]
# Uploaded files (ticket screenshots) live outside the web root and are served only through permission checks.
MEDIA_ROOT = Path(env_str("KAMENG_PRIVATE_MEDIA") or INSTANCE_DIR / "private")
MEDIA_URL = "/_private/"  # never routed: files are served only by views that check permissions
