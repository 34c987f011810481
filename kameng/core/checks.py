"""System checks on the configuration that Django's own checks do not cover."""

from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured

UNPREPARED_HINT = (
    "Start Kameng through manage.py, config.wsgi (gunicorn) or `celery -A config`, which generate it into the "
    "instance folder on first start, or set it in the environment."
)


@register()
def generated_secrets_present(app_configs, **kwargs) -> list[Error]:
    """The embedded set-up's secrets are empty until config.instance.prepare has run in the instance folder."""
    missing = []
    try:
        settings.SECRET_KEY  # noqa: B018 (Django refuses an empty one on access)
    except ImproperlyConfigured:
        missing.append("DJANGO_SECRET_KEY")
    if not settings.KAMENG_CARD_KEY:
        missing.append("KAMENG_CARD_KEY")
    return [Error(f"{name} is empty", hint=UNPREPARED_HINT, id="kameng.E001") for name in missing]


@register()
def rate_limits_readable(app_configs, **kwargs) -> list[Error]:
    """Each KAMENG_RATE_* is "limit/seconds": a typo is caught at start, not at a member's first checkout."""
    from kameng.core.ratelimit import (
        Rate,
    )  # checks load before the app registry is ready; models come with it

    problems = []
    for name in sorted({n for n in dir(settings) if n.startswith("KAMENG_RATE_")}):
        try:
            Rate.parse(getattr(settings, name))
        except ValueError:
            problems.append(
                Error(
                    f"{name} is {getattr(settings, name)!r}",
                    hint='Write a rate as "limit/seconds", both whole numbers of at least 1, e.g. "5/600".',
                    id="kameng.E002",
                )
            )
    return problems
