"""Domain errors: raised by services with a code from an app's catalogue (its `error_codes.py`), answered by the API
as `{"error": {"code", "message"}}` with the code's status, and by the pages as the message with that status.

A code carries its HTTP status and its message, so the same refusal reads the same wherever it surfaces. Messages
are written in Chinese (the shop's language) and translated in `locale/`; they are rendered when the error is shown,
so the reader's language (Accept-Language, or the language cookie on the pages) decides, not the raiser's.
"""

import importlib
import importlib.util
from enum import StrEnum

from django.apps import apps
from django.utils.functional import Promise


class ErrorCode(StrEnum):
    """The base of every app's catalogue. A member is `NAME = "code", status, _("message")`: the value is what
    clients see and match on (never renamed), the message may hold `%(name)s` fields the raise site fills."""

    status: int
    template: Promise | str

    def __new__(cls, value: str, status: int, template: Promise | str):
        member = str.__new__(cls, value)
        member._value_ = value
        member.status = status
        member.template = template
        return member

    def render(self, **params) -> str:
        text = str(self.template)
        return text % params if params else text


class DomainError(Exception):
    """A refusal: nothing was changed, and the caller is told why in their language."""

    def __init__(self, code: ErrorCode, /, **params):
        super().__init__(code.value)
        self.code = code
        self.params = params

    @property
    def status(self) -> int:
        return self.code.status

    @property
    def message(self) -> str:
        return self.code.render(**self.params)

    def envelope(self, **extra) -> dict:
        """The API's error body; `extra` adds fields beside code and message (e.g. `details`)."""
        return {"error": {"code": self.code.value, "message": self.message, **extra}}

    def __str__(self) -> str:
        return f"{self.code.value}: {self.message}"


def catalogue() -> list[ErrorCode]:
    """Every code of every installed app's `error_codes` module, app by app in INSTALLED_APPS order."""
    codes: list[ErrorCode] = []
    for app in apps.get_app_configs():
        name = f"{app.name}.error_codes"
        if not app.name.startswith("kameng.") or importlib.util.find_spec(name) is None:
            continue
        module = importlib.import_module(name)
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, ErrorCode) and value.__module__ == name:
                codes.extend(value)
    return codes
