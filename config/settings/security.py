"""Secrets, hosts, cookies, headers and the Content-Security-Policy; HTTPS only in production; login throttle;
which proxies may name the client; who may scrape /metrics.

Production refuses to start without its secrets, without its host names or with DEBUG on. The embedded set-up
reads the secrets config.instance.prepare generated into the instance folder when the environment has none.
"""

import ipaddress

from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from config import instance
from config.env import env_bool, env_int, env_list, env_str
from config.settings.base import PRODUCTION


def _secret(env_name: str) -> str:
    value = env_str(env_name).strip()
    if value:
        return value
    if PRODUCTION:
        raise ImproperlyConfigured(f"{env_name} must be set in production")
    # "" until prepare() has run in this instance folder; core's system check says how to fix that.
    return instance.generated_secret(env_name)


SECRET_KEY = _secret("DJANGO_SECRET_KEY")
# AES-256-GCM key for card secrets at rest (base64 of 32 bytes). Without it the stored card keys are unreadable.
KAMENG_CARD_KEY = _secret("KAMENG_CARD_KEY")

DEBUG = env_bool("DJANGO_DEBUG", False)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DJANGO_DEBUG must be off in production: it shows secrets in error pages")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost,testserver")
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must name the shop's host names in production")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

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
# Every password check goes through the login throttle (kameng.accounts.backends); accounts' system check refuses
# a backend here that does not, so a login path added later cannot bypass it.
AUTHENTICATION_BACKENDS = ["kameng.accounts.backends.ThrottledModelBackend"]
# Failed logins allowed within the window: per name from one address, and per address whatever the names.
KAMENG_LOGIN_MAX_FAILURES = env_int("KAMENG_LOGIN_MAX_FAILURES", 5)
KAMENG_LOGIN_MAX_FAILURES_PER_ADDRESS = env_int("KAMENG_LOGIN_MAX_FAILURES_PER_ADDRESS", 20)
KAMENG_LOGIN_WINDOW_SECONDS = env_int("KAMENG_LOGIN_WINDOW_SECONDS", 15 * 60)
# Failed logins are recorded (accounts.LoginFailure) for this many days, then swept: anyone can add one.
KAMENG_LOGIN_FAILURE_RETENTION_DAYS = env_int("KAMENG_LOGIN_FAILURE_RETENTION_DAYS", 30)
if KAMENG_LOGIN_FAILURE_RETENTION_DAYS < 1:
    raise ImproperlyConfigured("KAMENG_LOGIN_FAILURE_RETENTION_DAYS must be at least 1")
# The proxies whose X-Forwarded-For names the client (kameng.core.client): gunicorn's variable, with its meaning
# (addresses, networks, "*"). Production trusts loopback as config/gunicorn.py does; the embedded set-up, which
# has no proxy in front and whose every client connects from loopback, trusts nobody, so no client can name
# itself another address there.
FORWARDED_ALLOW_IPS = [
    item.strip()
    for item in env_list("FORWARDED_ALLOW_IPS", "127.0.0.1" if PRODUCTION else "")
    if item.strip()
]
for _entry in FORWARDED_ALLOW_IPS:
    try:
        if _entry != "*":
            ipaddress.ip_network(_entry, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"FORWARDED_ALLOW_IPS: {_entry!r} is not an address, a network or *"
        ) from None

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
# An API token expires this many days after its last use (sliding; the use is recorded at most once an hour).
KAMENG_API_TOKEN_TTL_DAYS = env_int("KAMENG_API_TOKEN_TTL_DAYS", 30)
# Live API tokens one user may hold: a new one past this revokes the one used least recently (accounts.services).
KAMENG_API_TOKENS_PER_USER = env_int("KAMENG_API_TOKENS_PER_USER", 20)
# A revoked or expired token is deleted this many days after it ended; until then it is refused by name
# (`token_revoked`, `token_expired`), after that as unknown.
KAMENG_API_TOKEN_RETENTION_DAYS = env_int("KAMENG_API_TOKEN_RETENTION_DAYS", 30)
if KAMENG_API_TOKENS_PER_USER < 1 or KAMENG_API_TOKEN_RETENTION_DAYS < 1:
    raise ImproperlyConfigured(
        "KAMENG_API_TOKENS_PER_USER and KAMENG_API_TOKEN_RETENTION_DAYS must be at least 1"
    )
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

# Metrics: who may scrape /metrics without the token (never through the proxy: see kameng.core.metrics).
KAMENG_METRICS_ALLOW = env_list("KAMENG_METRICS_ALLOW", "127.0.0.1/32,::1/128")
KAMENG_METRICS_TOKEN = env_str("KAMENG_METRICS_TOKEN")
