"""Outbound HTTP for server-to-server calls (shop → channel, sandbox channel → shop).

With KAMENG_HTTP_INPROCESS, calls to this site's own URL go through Django's WSGI handler in-process: the same
views, signatures and bytes, with no socket. Tests use it because no server listens while they run.
"""

from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.utils import translation


@dataclass(frozen=True)
class HttpReply:
    status: int
    headers: dict[str, str]
    body: bytes


class TransportError(Exception):
    """The other side could not be reached or did not answer in time."""


def _own_path(url: str) -> str | None:
    base = settings.KAMENG_PUBLIC_URL.rstrip("/")
    if settings.KAMENG_HTTP_INPROCESS and url.startswith(base + "/"):
        parts = urlsplit(url)
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return None


def post(
    url: str, *, body: bytes, headers: dict[str, str], timeout: float | None = None, method: str = "POST"
) -> HttpReply:
    path = _own_path(url)
    if path is not None:
        from django.test import Client

        extra = {k: v for k, v in headers.items() if k.lower() != "content-type"}
        # The inner request activates its own language; the caller's must survive the call.
        with translation.override(translation.get_language()):
            response = Client().generic(
                method,
                path,
                data=body,
                content_type=headers.get("Content-Type", "application/octet-stream"),
                headers=extra,
            )
        return HttpReply(response.status_code, dict(response.items()), response.content)
    try:
        response = requests.request(
            method, url, data=body, headers=headers, timeout=timeout or settings.KAMENG_HTTP_TIMEOUT
        )
    except requests.RequestException as exc:
        raise TransportError(f"{type(exc).__name__}: {exc}") from exc
    return HttpReply(response.status_code, dict(response.headers), response.content)
