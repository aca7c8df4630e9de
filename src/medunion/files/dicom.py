"""DICOM instances read with pydicom: what is stored about them, and previews of their frames.

Used by uploads (``medunion.files.actions``) and reusable by remote diagnosis, which builds
studies and series from :attr:`DicomInstance.meta` and renders frames with :func:`render_png`.

The patient's name and ID are read (:class:`DicomPatient`, for checking the instance against the
registered patient) but never put into ``meta``, which is stored. Compressed transfer syntaxes are
decoded by pydicom's pixel-data plugins (pylibjpeg with its OpenJPEG and RLE plugins, GDCM); a
syntax none of them can decode is refused with a clear message.
"""

from __future__ import annotations

import datetime as dt
import io
import math
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _

from medunion.core.errors import ValidationFailed

_DICM_OFFSET = 128
_MEDIA_STORAGE_DIRECTORY = "1.2.840.10008.1.3.10"  # DICOMDIR
# Window/level presets (centre, width) a CT viewer offers; sensible defaults for the preview.
CT_WINDOWS: dict[str, tuple[float, float]] = {
    "soft_tissue": (40.0, 400.0),
    "lung": (-600.0, 1500.0),
    "bone": (400.0, 1800.0),
    "brain": (40.0, 80.0),
    "liver": (60.0, 160.0),
}
PREVIEW_MAX_SIDE = 1024


def is_dicom(head: bytes) -> bool:
    """A DICOM Part 10 file: a 128-byte preamble, then ``DICM``."""
    return len(head) >= _DICM_OFFSET + 4 and head[_DICM_OFFSET:_DICM_OFFSET + 4] == b"DICM"


@dataclass(frozen=True)
class DicomPatient:
    """Who the header says the images are of — for checks only, never stored in ``meta``."""

    name: str
    id: str
    sex: str
    birth_date: dt.date | None


@dataclass(frozen=True)
class DicomInstance:
    dataset: Any  # pydicom.Dataset
    meta: dict[str, Any]
    patient: DicomPatient

    @property
    def has_pixels(self) -> bool:
        return bool(self.meta.get("has_pixels"))

    @property
    def sop_instance_uid(self) -> str:
        return str(self.meta["sop_instance_uid"])


def _damaged() -> ValidationFailed:
    return ValidationFailed(_("The DICOM file is damaged or incomplete and cannot be read."), field="file")


def _text(ds: Any, keyword: str) -> str:
    value = ds.get(keyword)
    if value is None:
        return ""
    if hasattr(value, "__iter__") and not isinstance(value, str | bytes) and not hasattr(value, "family_name"):
        value = next(iter(value), "")
    return str(value).strip()


def _number(ds: Any, keyword: str) -> float | None:
    value = ds.get(keyword)
    if value is None or value == "":
        return None
    if hasattr(value, "__iter__") and not isinstance(value, str | bytes):
        value = next(iter(value), None)
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _integer(ds: Any, keyword: str) -> int | None:
    number = _number(ds, keyword)
    return int(number) if number is not None else None


def _numbers(ds: Any, keyword: str) -> list[float] | None:
    value = ds.get(keyword)
    if value is None or value == "":
        return None
    try:
        values = [float(v) for v in (value if hasattr(value, "__iter__") and not isinstance(value, str) else [value])]
    except (TypeError, ValueError):
        return None
    return values if all(math.isfinite(v) for v in values) else None


def _date(raw: str) -> dt.date | None:
    raw = raw.strip()
    if len(raw) != 8 or not raw.isdigit():
        return None
    try:
        return dt.date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
    except ValueError:
        return None


def read(data: bytes) -> DicomInstance:
    """Parse a DICOM Part 10 file; refuse (``ValidationFailed`` on ``file``) what is not one, a
    DICOMDIR, or an instance missing its identifying UIDs. Pixel data is checked by
    :func:`render_png` (decoding is what proves it complete)."""
    from pydicom import dcmread
    from pydicom.errors import InvalidDicomError

    if not is_dicom(data[:_DICM_OFFSET + 4]):
        raise ValidationFailed(_("This is not a DICOM file (the DICM marker is missing)."), field="file")
    try:
        ds = dcmread(io.BytesIO(data), force=False)
        if not len(ds):  # what pydicom makes of a file cut short inside encapsulated pixel data
            raise _damaged()
        media_class = str(ds.file_meta.get("MediaStorageSOPClassUID", ""))
        transfer = ds.file_meta.get("TransferSyntaxUID")
        if media_class == _MEDIA_STORAGE_DIRECTORY or "DirectoryRecordSequence" in ds:
            raise ValidationFailed(_("This is a DICOMDIR (the index of a disc), not an image; upload the "
                                     "image files it lists."), field="file")
        has_pixels = "PixelData" in ds or "FloatPixelData" in ds or "DoubleFloatPixelData" in ds
        sop_class = ds.get("SOPClassUID")
        if not has_pixels and (("Rows" in ds and "Columns" in ds)
                               or "Image Storage" in str(getattr(sop_class, "name", ""))):
            # An image's description without its pixels: stripped, or the file was cut short.
            raise ValidationFailed(_("The DICOM image has no pixel data: it holds no picture, or the file "
                                     "was cut short."), field="file")
        uids = {key: _text(ds, kw) for key, kw in (("sop_instance_uid", "SOPInstanceUID"),
                                                   ("study_instance_uid", "StudyInstanceUID"),
                                                   ("series_instance_uid", "SeriesInstanceUID"))}
        if not all(uids.values()):
            raise ValidationFailed(_("The DICOM file lacks its study, series or instance identifier."),
                                   field="file")
        birth = _date(_text(ds, "PatientBirthDate"))
        study_date = _date(_text(ds, "StudyDate"))
        meta: dict[str, Any] = {
            "modality": _text(ds, "Modality").upper(),
            "sop_class_uid": _text(ds, "SOPClassUID"),
            **uids,
            "transfer_syntax": str(transfer or ""),
            "transfer_syntax_name": getattr(transfer, "name", "") if transfer else "",
            "has_pixels": has_pixels,
            "rows": _integer(ds, "Rows"),
            "columns": _integer(ds, "Columns"),
            "frames": (_integer(ds, "NumberOfFrames") or 1) if has_pixels else 0,
            "photometric": _text(ds, "PhotometricInterpretation"),
            "bits_stored": _integer(ds, "BitsStored"),
            "study_date": study_date.isoformat() if study_date else "",
            "series_number": _integer(ds, "SeriesNumber"),
            "instance_number": _integer(ds, "InstanceNumber"),
            "body_part": _text(ds, "BodyPartExamined"),
            "slice_location": _number(ds, "SliceLocation"),
            "image_position": _numbers(ds, "ImagePositionPatient"),
            "pixel_spacing": _numbers(ds, "PixelSpacing"),
            "window_center": _number(ds, "WindowCenter"),
            "window_width": _number(ds, "WindowWidth"),
            "patient_sex": _text(ds, "PatientSex").upper()[:1],
            "patient_birth_date": birth.isoformat() if birth else "",
        }
        patient = DicomPatient(name=_text(ds, "PatientName"), id=_text(ds, "PatientID"),
                               sex=meta["patient_sex"], birth_date=birth)
    except ValidationFailed:
        raise
    except InvalidDicomError as exc:
        raise ValidationFailed(_("This is not a DICOM file (the DICM marker is missing)."), field="file") from exc
    except Exception as exc:  # pydicom raises many kinds of error on damaged input
        raise _damaged() from exc
    return DicomInstance(dataset=ds, meta=meta, patient=patient)


def _to_uint8(arr: Any) -> Any:
    import numpy as np

    arr = np.asarray(arr, dtype=np.float64)
    finite = arr[np.isfinite(arr)]
    if finite.size == 0:
        return np.zeros(arr.shape, dtype=np.uint8)
    lo, hi = float(np.percentile(finite, 0.5)), float(np.percentile(finite, 99.5))
    if hi <= lo:
        lo, hi = float(finite.min()), float(finite.max())
    if hi <= lo:
        return np.zeros(arr.shape, dtype=np.uint8)
    return (np.clip((arr - lo) / (hi - lo), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def _window(arr: Any, center: float, width: float) -> Any:
    """The linear VOI function of DICOM PS3.3 C.11.2.1.2, onto 0..255."""
    import numpy as np

    width = max(width, 1.0)
    scaled = ((np.asarray(arr, dtype=np.float64) - (center - 0.5)) / (width - 1.0) + 0.5) if width > 1 else (
        (np.asarray(arr, dtype=np.float64) > center - 0.5).astype(np.float64))
    return (np.clip(scaled, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def frame_array(ds: Any, frame: int = 0) -> Any:
    """One frame's pixels as pydicom decodes them (colour converted to RGB)."""
    from pydicom.pixels import pixel_array

    return pixel_array(ds, index=frame)


def render_png(instance: DicomInstance | Any, *, frame: int = 0, window: tuple[float, float] | None = None,
               max_side: int | None = PREVIEW_MAX_SIDE) -> bytes:
    """A PNG of one frame. Greyscale images get the modality LUT (rescale), then ``window``
    (centre, width) if given, else the header's window or VOI LUT, else a CT soft-tissue window
    for CT and the 0.5–99.5 percentile range otherwise; MONOCHROME1 is inverted. Colour and
    palette images are shown as they are. Raises ``ValidationFailed`` on ``file`` when there are
    no pixels, the pixels are damaged, or no installed plugin decodes the transfer syntax."""
    import numpy as np
    from PIL import Image
    from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi_lut

    ds = instance.dataset if isinstance(instance, DicomInstance) else instance
    if "PixelData" not in ds:
        raise ValidationFailed(_("The DICOM file holds no image (no pixel data), so it cannot be shown."),
                               field="file")
    frames = int(_number(ds, "NumberOfFrames") or 1)
    if not 0 <= frame < frames:
        raise ValidationFailed(_("There is no such frame in this image."), field="frame")
    if not _decoder_available(ds):
        raise _undecodable(ds)
    try:
        arr = frame_array(ds, frame)
    except NotImplementedError as exc:
        raise _undecodable(ds) from exc
    except Exception as exc:  # short or malformed pixel data, or a variant no plugin handles
        if "not support" in str(exc).lower():
            raise _undecodable(ds) from exc
        raise _damaged() from exc
    try:
        photometric = _text(ds, "PhotometricInterpretation").upper()
        samples = _integer(ds, "SamplesPerPixel") or 1
        if photometric == "PALETTE COLOR":
            rgb = apply_color_lut(arr, ds)
            peak = float(np.max(rgb)) if rgb.size else 0.0
            out = (rgb / 257.0 if peak > 255 else rgb).astype(np.uint8)
        elif samples == 3 or arr.ndim == 3:
            out = arr if arr.dtype == np.uint8 else _to_uint8(arr)
        else:
            values = apply_modality_lut(arr, ds)
            if window is not None:
                out = _window(values, *window)
            elif _number(ds, "WindowCenter") is not None and _number(ds, "WindowWidth"):
                out = _window(values, _number(ds, "WindowCenter"), _number(ds, "WindowWidth"))  # type: ignore[arg-type]
            elif "VOILUTSequence" in ds:
                out = _to_uint8(apply_voi_lut(values, ds, index=0))
            elif _text(ds, "Modality").upper() == "CT":
                out = _window(values, *CT_WINDOWS["soft_tissue"])
            else:
                out = _to_uint8(values)
            if photometric == "MONOCHROME1":
                out = 255 - out
        image = Image.fromarray(np.ascontiguousarray(out))
        if max_side and max(image.size) > max_side:
            image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        image.save(buf, format="PNG", compress_level=6)
    except ValidationFailed:
        raise
    except Exception as exc:
        raise _damaged() from exc
    return buf.getvalue()


def _decoder_available(ds: Any) -> bool:
    from pydicom.pixels import get_decoder

    transfer = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
    if not transfer:
        return True  # pydicom guesses the syntax; decoding will tell
    try:
        return bool(get_decoder(transfer).is_available)
    except NotImplementedError:
        return False


def _undecodable(ds: Any) -> ValidationFailed:
    transfer = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
    name = getattr(transfer, "name", "") or str(transfer or "")
    return ValidationFailed(
        _("The images in this DICOM file are compressed in a way this server cannot decode (%(syntax)s); "
          "export them uncompressed or as JPEG 2000 and upload again.") % {"syntax": name}, field="file")
