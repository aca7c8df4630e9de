"""What the bytes of an upload really are, whatever its name says.

:func:`sniff` looks at the first bytes only (cheap, before the rest is read); :func:`check_declared`
compares what the client declared (file name, content type) with what was sniffed, refusing a
disguised file; :func:`inspect_image` and :func:`inspect_pdf` then prove the whole file readable.
DICOM is inspected by :mod:`medunion.files.dicom`. Every refusal is a ``ValidationFailed`` on the
field ``file`` with a translated message.
"""

from __future__ import annotations

import io
import unicodedata
import warnings
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _

from medunion.core.errors import ValidationFailed

from .dicom import is_dicom
from .models import FileKind

HEAD_BYTES = 4096
PHOTO_PREVIEW_MAX_SIDE = 1600
# Pillow refuses images over twice its MAX_IMAGE_PIXELS (≈179 megapixels) as decompression bombs.

try:  # HEIC/HEIF photos (iPhones) when the pillow-heif plugin is installed; refused clearly otherwise.
    import pillow_heif

    pillow_heif.register_heif_opener()
except ImportError:  # pragma: no cover - depends on the installation
    pass


@dataclass(frozen=True)
class Format:
    name: str
    kind: str
    content_type: str
    extension: str
    label: Any


JPEG = Format("jpeg", FileKind.IMAGE, "image/jpeg", ".jpg", _("a JPEG photo"))
PNG = Format("png", FileKind.IMAGE, "image/png", ".png", _("a PNG image"))
WEBP = Format("webp", FileKind.IMAGE, "image/webp", ".webp", _("a WebP image"))
HEIC = Format("heic", FileKind.IMAGE, "image/heic", ".heic", _("a HEIC photo"))
PDF = Format("pdf", FileKind.PDF, "application/pdf", ".pdf", _("a PDF document"))
DICOM = Format("dicom", FileKind.DICOM, "application/dicom", ".dcm", _("a DICOM file"))
FORMATS = {f.name: f for f in (JPEG, PNG, WEBP, HEIC, PDF, DICOM)}
# Content types a stored file may be served with (never anything a browser would run).
SERVABLE_TYPES = frozenset(f.content_type for f in FORMATS.values()) | {"image/heif"}

_EXTENSIONS = {
    ".jpg": JPEG, ".jpeg": JPEG, ".jpe": JPEG, ".jfif": JPEG, ".png": PNG, ".webp": WEBP,
    ".heic": HEIC, ".heif": HEIC, ".pdf": PDF, ".dcm": DICOM, ".dicom": DICOM, ".dic": DICOM,
}
_TYPES = {
    "image/jpeg": JPEG, "image/jpg": JPEG, "image/pjpeg": JPEG, "image/png": PNG, "image/x-png": PNG,
    "image/webp": WEBP, "image/heic": HEIC, "image/heif": HEIC, "image/heic-sequence": HEIC,
    "application/pdf": PDF, "application/x-pdf": PDF, "application/dicom": DICOM,
}
# Declared types that say nothing about the content.
_NEUTRAL_TYPES = {"", "application/octet-stream", "binary/octet-stream", "application/unknown"}
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}


def sniff(head: bytes) -> Format | None:
    """The format the first bytes announce, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(b"%PDF-"):
        return PDF
    if is_dicom(head):
        return DICOM
    if len(head) >= 16 and head[4:8] == b"ftyp":
        box = int.from_bytes(head[:4], "big")
        brands = {head[8:12]} | {head[i:i + 4] for i in range(16, min(box, len(head)) - 3, 4)}
        if head[8:12] in _HEIF_BRANDS and not brands & _AVIF_BRANDS:
            return HEIC
    return None


def clean_filename(name: str, fmt: Format | None = None) -> str:
    """The file's own name without any directory, control characters or surrounding blanks, at
    most 255 characters. For photos and PDFs the extension is made to match the content (added
    when missing, replaced when it names another format); DICOM names are kept as they are."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip().strip(".").strip()
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    if fmt is not None and fmt is not DICOM and _EXTENSIONS.get(f".{ext.lower()}") is not fmt:
        if f".{ext.lower()}" not in _EXTENSIONS:
            stem = name
        ext = fmt.extension[1:]
    stem = stem or "file"
    suffix = f".{ext[:16]}" if ext else ""
    return stem[:255 - len(suffix)] + suffix


def _extension(name: str) -> str:
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, ext = base.rpartition(".")
    return f".{ext.lower()}" if dot and stem else ""


def _disguised(declared: Format | None, what: str, actual: Format | None) -> ValidationFailed:
    if actual is None:
        return ValidationFailed(
            _("This file is labelled as %(declared)s, but its content is not one; it was not accepted.")
            % {"declared": declared.label if declared else what}, field="file")
    return ValidationFailed(
        _("This file is labelled as %(declared)s, but its content is %(actual)s; rename it or send the "
          "original file.") % {"declared": declared.label if declared else what, "actual": actual.label},
        field="file")


def check_declared(name: str, content_type: str, actual: Format | None) -> None:
    """Refuse a file whose declared name or type contradicts its content. Photos of one format
    named as another (a PNG saved as ``.jpg``) pass: the content decides how they are served.
    A name with no extension, or a numeric one (DICOM files are often named by UID), says nothing."""
    ext = _extension(name)
    claimed = _EXTENSIONS.get(ext)
    if claimed is None and ext and not ext[1:].isdigit():
        raise _disguised(None, _("a “%(ext)s” file") % {"ext": ext}, actual)
    ctype = (content_type or "").split(";", 1)[0].strip().lower()
    by_type = _TYPES.get(ctype)
    if by_type is None and ctype not in _NEUTRAL_TYPES:
        raise _disguised(None, _("“%(type)s”") % {"type": ctype[:60]}, actual)
    for declared in (claimed, by_type):
        if declared is None:
            continue
        if actual is None or declared.kind != actual.kind:
            raise _disguised(declared, "", actual)


def refuse_unknown(allowed_labels: str) -> ValidationFailed:
    return ValidationFailed(
        _("This kind of file cannot be attached. Send %(allowed)s.") % {"allowed": allowed_labels}, field="file")


@dataclass(frozen=True)
class ImageInfo:
    meta: dict[str, Any]
    preview: bytes | None  # a JPEG, when the original is large, rotated or not shown by browsers


def inspect_image(data: bytes, fmt: Format) -> ImageInfo:
    """Decode the whole photo (which proves it complete), and make a preview when useful."""
    from PIL import Image, ImageOps

    if fmt is HEIC and "HEIF" not in Image.registered_extensions().values():
        raise ValidationFailed(
            _("HEIC photos (the iPhone's default) cannot be read on this server. On the iPhone choose "
              "Settings › Camera › Formats › Most Compatible, or send the photo as JPEG."), field="file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            actual = (image.format or "").lower()
            if {"jpeg": "jpeg", "png": "png", "webp": "webp", "heif": "heic"}.get(actual) != fmt.name:
                raise ValidationFailed(_("The image could not be read; it may be damaged."), field="file")
            width, height = image.size
            orientation = image.getexif().get(0x0112, 1)
            if fmt is JPEG:
                image.draft("RGB", (PHOTO_PREVIEW_MAX_SIDE, PHOTO_PREVIEW_MAX_SIDE))
            image.load()
    except Image.DecompressionBombError as exc:
        raise ValidationFailed(_("The image has too many pixels to be shown safely."), field="file") from exc
    except ValidationFailed:
        raise
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError … on damaged images
        raise ValidationFailed(_("The image could not be read; it may be damaged or incomplete."),
                               field="file") from exc
    meta: dict[str, Any] = {"format": fmt.name, "width": width, "height": height}
    preview = None
    if fmt is HEIC or max(width, height) > PHOTO_PREVIEW_MAX_SIDE or orientation not in (1, None):
        shown = ImageOps.exif_transpose(image)
        if shown.mode not in ("RGB", "L"):
            shown = shown.convert("RGBA")
            backdrop = Image.new("RGB", shown.size, "white")
            backdrop.paste(shown, mask=shown.getchannel("A"))
            shown = backdrop
        shown.thumbnail((PHOTO_PREVIEW_MAX_SIDE, PHOTO_PREVIEW_MAX_SIDE), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        shown.save(buf, format="JPEG", quality=85)  # no EXIF: no location in the preview
        preview = buf.getvalue()
        meta["preview_content_type"] = "image/jpeg"
    return ImageInfo(meta=meta, preview=preview)


def inspect_pdf(data: bytes) -> dict[str, Any]:
    """Parse the PDF's structure with pypdf; refuse what has no readable page or needs a password."""
    import logging

    from pypdf import PdfReader

    quiet = logging.getLogger("pypdf")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # pypdf warns about every repaired cross-reference table
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise ValidationFailed(_("The PDF is protected by a password; send it without the password."),
                                   field="file")
        pages = len(reader.pages)
        if pages < 1:
            raise ValidationFailed(_("The PDF has no pages."), field="file")
        version = data[5:8].decode("ascii", "replace")
    except ValidationFailed:
        raise
    except Exception as exc:  # pypdf raises many kinds of error on damaged input
        raise ValidationFailed(_("The PDF could not be read; it may be damaged or incomplete."),
                               field="file") from exc
    finally:
        quiet.setLevel(level)
    return {"format": "pdf", "pages": pages, "version": version}
