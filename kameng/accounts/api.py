from django.db import transaction
from ninja import Router, Schema
from ninja.responses import Status
from ninja.security import HttpBearer
from pydantic import ConfigDict

from kameng.accounts import credentials, services
from kameng.accounts.error_codes import AccountErrorCode as E
from kameng.core import client
from kameng.core.api import SIGNED_IN, WITH_BODY, answers
from kameng.core.audit import Source

router = Router(tags=["auth"])


class BearerToken(HttpBearer):
    """The API's authentication (config/api.py): a token issued by `token` below names its user. An expired or
    revoked token is refused with its own code (401 `token_expired`, `token_revoked`), not as an unknown one."""

    def authenticate(self, request, token: str):
        row = credentials.authenticate_token(
            token=token, ip=client.client_ip(request), agent=credentials.user_agent(request)
        )
        if row is None:
            return None
        request.user = row.user
        request.api_token = row
        return row.user


class RegisterIn(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"username": "xiaoming", "password": "Correct-Horse-42", "email": "xiaoming@example.com"}
            ]
        }
    )

    username: str
    password: str
    email: str


class RegisterOut(Schema):
    model_config = ConfigDict(json_schema_extra={"examples": [{"id": 1024, "username": "xiaoming"}]})

    id: int
    username: str


class TokenIn(Schema):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"username": "xiaoming", "password": "Correct-Horse-42"}]}
    )

    username: str
    password: str


class TokenOut(Schema):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"token": "km_LjnjPgLPvoko5jHsoumeY6tHCEy08I-gmDZiOYB-0vk"}]}
    )

    token: str


@router.post(
    "/register",
    **answers({201: RegisterOut}, *WITH_BODY, E.BAD_USERNAME, E.BAD_EMAIL, E.WEAK_PASSWORD, E.USERNAME_TAKEN),
    auth=None,
)
def register(request, payload: RegisterIn):
    user = services.register_user(
        username=payload.username, password=payload.password, email=payload.email, source=Source.API
    )
    return Status(201, {"id": user.pk, "username": user.username})


@router.post(
    "/token", **answers({200: TokenOut}, *WITH_BODY, E.BAD_CREDENTIALS, E.TOO_MANY_ATTEMPTS), auth=None
)
def token(request, payload: TokenIn):
    """Exchanges a username and password for a Bearer token; failed attempts are throttled."""
    user = services.check_credentials(request=request, username=payload.username, password=payload.password)
    with transaction.atomic():
        issued = services.issue_token(
            user=user, ip=client.client_ip(request), user_agent=credentials.user_agent(request)
        )
        return {"token": issued}


@router.delete("/token", **answers({204: None}, *SIGNED_IN))
def revoke_token(request):
    """Revokes the token this request carries (signing out of the API); other tokens and the site's sessions stay.
    Tokens also expire after a while unused, and all of them are revoked when the password changes."""
    credentials.revoke_used_token(token=request.api_token)
    return Status(204, None)
