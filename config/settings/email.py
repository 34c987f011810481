"""Mail and text messages.

SMTP when EMAIL_HOST is set (production); otherwise mail is written as files under instance/mail so the embedded
set-up works offline. Mail goes out through the outbox: a failing server delays it, never loses it.
"""

from config.env import env_bool, env_int, env_str
from config.settings.base import INSTANCE_DIR

DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "卡盟 Kameng <noreply@kameng.local>")
if env_str("EMAIL_HOST"):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = env_str("EMAIL_HOST")
    EMAIL_PORT = env_int("EMAIL_PORT", 25)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
    EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
    EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = INSTANCE_DIR / "mail"  # the backend makes the folder when it first writes
# Text messages: any class with send(phone, text); the console backend is the only one shipped.
KAMENG_SMS_BACKEND = env_str("KAMENG_SMS_BACKEND", "kameng.notifications.sms.ConsoleSmsBackend")
