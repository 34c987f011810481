from kameng.accounts.models import ApiToken, User
from kameng.accounts.services import token_digest


def user_for_token(token: str) -> User | None:
    row = (
        ApiToken.objects.select_related("user")
        .filter(digest=token_digest(token), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    return row.user if row else None
