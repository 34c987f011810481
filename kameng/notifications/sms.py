"""Text messages: one small interface. Real SMS gateways are outside this machine; the console backend logs."""

import logging
from functools import lru_cache
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

log = logging.getLogger(__name__)


class SmsBackend(Protocol):
    def send(self, phone: str, text: str) -> None:
        """Sends or raises; the outbox retries a raise."""


class ConsoleSmsBackend:
    sent: list[tuple[str, str]] = []

    def send(self, phone: str, text: str) -> None:
        self.sent.append((phone, text))
        log.info("SMS to %s: %s", phone, text)


@lru_cache(maxsize=1)
def backend() -> SmsBackend:
    return import_string(settings.KAMENG_SMS_BACKEND)()
