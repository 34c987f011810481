from kameng.accounts.models import ApiToken, User, UserSession


def active_tokens(user: User) -> list[ApiToken]:
    """The user's tokens that still work, most recently used first."""
    return list(ApiToken.objects.filter(user=user).active().order_by("-last_used_at", "-pk"))


def signed_in_sessions(user: User) -> list[UserSession]:
    """The browsers signed in to the user's account, most recently used first."""
    return UserSession.objects.filter(user=user).order_by("-last_used_at", "-pk").alive()
