"""Ticket attachments: decoded as images before they are kept, stored outside the web root."""

import io

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from PIL import Image, UnidentifiedImageError

from kameng.core.errors import DomainError
from kameng.support.error_codes import SupportErrorCode

ALLOWED = {"PNG": ("image/png", "png"), "JPEG": ("image/jpeg", "jpg"), "WEBP": ("image/webp", "webp")}


def checked_image(upload: UploadedFile) -> tuple[bytes, str, str]:
    """(bytes, content type, extension) of a real PNG/JPEG/WebP within the size limit; refuses anything else.

    The type comes from decoding the file, never from its name or the browser's claim."""
    limit = settings.KAMENG_MAX_ATTACHMENT_BYTES
    if upload.size is None or upload.size > limit:
        raise DomainError(SupportErrorCode.ATTACHMENT_TOO_LARGE, limit=limit // 1024 // 1024)
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise DomainError(SupportErrorCode.ATTACHMENT_TOO_LARGE, limit=limit // 1024 // 1024)
    try:
        with Image.open(io.BytesIO(data)) as image:
            kind = image.format
            image.verify()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise DomainError(SupportErrorCode.ATTACHMENT_NOT_IMAGE) from None
    if kind not in ALLOWED:
        raise DomainError(SupportErrorCode.ATTACHMENT_NOT_IMAGE)
    content_type, extension = ALLOWED[kind]
    return data, content_type, extension
