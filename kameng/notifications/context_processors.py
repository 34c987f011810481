from kameng.notifications.selectors import unread_count


def inbox(request) -> dict:
    """The unread count in the header, for signed-in people only (one COUNT query)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_count": unread_count(user=user)}
