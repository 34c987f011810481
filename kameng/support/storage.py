"""Ticket attachments: decoded as images, re-encoded without their metadata, stored outside the web root.

What the member sent is evidence, so the original's SHA-256 (and size) is kept beside the stored file's own hash:
the evidence bundle lists both. What is stored is not the original but the same pixels saved afresh, so that
nothing the picture carried besides pixels (EXIF with the phone's GPS position, comments, colour profiles, trailing
bytes) is kept or served back.
"""

import hashlib
import io
from dataclasses import dataclass

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from PIL import Image, ImageOps

from kameng.core.errors import DomainError
from kameng.support.error_codes import SupportErrorCode

ALLOWED = {"PNG": ("image/png", "png"), "JPEG": ("image/jpeg", "jpg"), "WEBP": ("image/webp", "webp")}
# Pillow refuses past twice its MAX_IMAGE_PIXELS (about 179 megapixels) by itself; ours is far lower, and is
# checked from the header, before a single pixel is decompressed (a PNG bomb is a few kilobytes declaring more).


@dataclass(frozen=True)
class Screenshot:
    data: bytes  # the re-encoded picture: what is stored and served
    content_type: str
    extension: str
    sha256: str  # of `data`
    original_sha256: str  # of the bytes the member uploaded
    original_bytes: int


def _too_large(limit: int) -> DomainError:
    return DomainError(SupportErrorCode.ATTACHMENT_TOO_LARGE, limit=limit // 1024 // 1024)


def _too_many_pixels() -> DomainError:
    pixels = settings.KAMENG_MAX_ATTACHMENT_PIXELS
    return DomainError(
        SupportErrorCode.ATTACHMENT_TOO_MANY_PIXELS, limit=pixels // 10_000, megapixels=round(pixels / 1e6, 1)
    )


def _clean(image: Image.Image, kind: str) -> bytes:
    """The pixels saved afresh in the same format, upright (the EXIF orientation applied), with no metadata."""
    image = ImageOps.exif_transpose(image)
    alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    mode = "RGBA" if alpha and kind != "JPEG" else ("L" if image.mode in ("1", "L") else "RGB")
    clean = image.convert(mode)
    clean.info = {}  # convert() copies the source's info (exif, icc_profile, text chunks): none of it is kept
    out = io.BytesIO()
    if kind == "JPEG":
        clean.save(out, "JPEG", quality=90)
    elif kind == "WEBP":
        clean.save(out, "WEBP", quality=90)
    else:
        clean.save(out, "PNG")
    return out.getvalue()


def screenshot(upload: UploadedFile) -> Screenshot:
    """A real PNG/JPEG/WebP within the size and pixel limits, re-encoded; refuses anything else (422).

    The type comes from decoding the file, never from its name or the browser's claim."""
    limit = settings.KAMENG_MAX_ATTACHMENT_BYTES
    if upload.size is None or upload.size > limit:
        raise _too_large(limit)
    original = upload.read(limit + 1)
    if len(original) > limit:
        raise _too_large(limit)
    try:
        with Image.open(io.BytesIO(original)) as image:
            kind = image.format
            if kind not in ALLOWED:
                raise DomainError(SupportErrorCode.ATTACHMENT_NOT_IMAGE)
            if image.width * image.height > settings.KAMENG_MAX_ATTACHMENT_PIXELS:
                raise _too_many_pixels()
            image.load()  # a truncated or corrupt file fails here, not halfway through the re-encoding
            data = _clean(image, kind)
    except DomainError:
        raise
    except Image.DecompressionBombError:
        raise _too_many_pixels() from None
    except Exception:  # Pillow meets a hostile file with many kinds of error: each means "not an image"
        raise DomainError(SupportErrorCode.ATTACHMENT_NOT_IMAGE) from None
    content_type, extension = ALLOWED[kind]
    return Screenshot(
        data=data,
        content_type=content_type,
        extension=extension,
        sha256=hashlib.sha256(data).hexdigest(),
        original_sha256=hashlib.sha256(original).hexdigest(),
        original_bytes=len(original),
    )


def screenshot_of(upload: UploadedFile | None) -> Screenshot | None:
    """`screenshot(upload)`, or None when nothing was uploaded."""
    return None if upload is None else screenshot(upload)
