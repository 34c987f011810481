"""Signed-in browsers, recorded for the account page (accounts.credentials)."""

from django.contrib.auth import SESSION_KEY

from kameng.accounts import credentials


class SessionActivity:
    """After the view: a request that read a signed-in session records it (once after login, then at most hourly).
    A request that never read its session did not use it, and costs nothing here. Placed after Django's
    AuthenticationMiddleware and SessionMiddleware, so that on the way out it runs before the session is saved."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is None or not session.accessed or response.status_code >= 500:
            return response
        user = request.user
        # An API call with a Bearer token has the token's user, who need not be the session's.
        if user.is_authenticated and session.get(SESSION_KEY) == str(user.pk):
            credentials.note_session_use(request)
        return response
