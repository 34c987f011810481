"""System checks: the login throttle cannot be bypassed by configuration."""

from django.conf import settings
from django.core import checks
from django.utils.module_loading import import_string

from kameng.accounts.backends import ThrottledBackend


@checks.register(checks.Tags.security)
def every_backend_is_throttled(app_configs, **kwargs) -> list[checks.CheckMessage]:
    problems = []
    for path in settings.AUTHENTICATION_BACKENDS:
        backend = import_string(path)
        if (
            not issubclass(backend, ThrottledBackend)
            or backend.authenticate is not ThrottledBackend.authenticate
        ):
            problems.append(
                checks.Error(
                    f"{path} checks credentials outside the login throttle",
                    hint="Subclass kameng.accounts.backends.ThrottledBackend and implement verify(), not "
                    "authenticate(): every login path must go through the throttle.",
                    id="accounts.E001",
                )
            )
    return problems
