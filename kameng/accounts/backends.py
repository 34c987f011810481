"""Authentication backends. Every one of them is a `ThrottledBackend`: Django's authenticate() (the login page, the
API token, the admin's login, and any path added later: codes, a second factor) reaches a backend's check only
through the login throttle. accounts' system check refuses a backend in AUTHENTICATION_BACKENDS that is not one, or
that replaces `authenticate` (kameng.accounts.checks)."""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import BaseBackend, ModelBackend

from kameng.accounts import throttle


class ThrottledBackend(BaseBackend):
    """Admits the attempt through the throttle, then asks `verify()`; a subclass implements `verify` only."""

    def authenticate(self, request, username: str | None = None, **credentials):
        if username is None:
            username = credentials.pop(get_user_model().USERNAME_FIELD, None)
        if username is None or not credentials:
            return None  # not a credential check this backend answers (Django asks every backend)
        attempt = throttle.admit(request=request, username=username)  # LoginRefused: authenticate() says None
        user = self.verify(request, username=username, **credentials)
        if user is None:
            attempt.failed()
        else:
            attempt.succeeded()
        return user

    def verify(self, request, *, username: str, **credentials):
        """The user these credentials prove, or None."""
        raise NotImplementedError


class ThrottledModelBackend(ThrottledBackend, ModelBackend):
    """Django's username and password check (and its permissions), behind the throttle."""

    def verify(self, request, *, username: str, **credentials):
        return ModelBackend.authenticate(self, request, username=username, **credentials)
