"""The pictures of the demo's examinations.

DICOM: pydicom's own test files, the ones shipped inside the pydicom wheel (``pydicom.data``),
restamped the way a scanner's worklist writes them: the demo patient's name in pinyin, resident
ID, date of birth and sex, the examination's accession number and date, fresh UIDs. A head CT
series is made from pydicom's real head CT (JPEG 2000, 512×512, decoded once and halved to
256×256), each slice its own instance, position and pixels (scaled towards the vertex, so
scrolling looks like scrolling through a head); other CT series from ``CT_small.dcm`` with the
pixels shifted slice by slice. DR/X-ray images reuse the CT pixels under a DX header; MR and
ultrasound are pydicom's MR and colour-ultrasound files (some MR kept in their RLE or JPEG 2000
transfer syntax, so the viewer decodes compressed pixel data too).

ECG tracings and slide photos are drawn with Pillow: twelve leads on ECG paper (sinus rhythm,
atrial fibrillation, inferior ST elevation) and a stained section or a cervical smear.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import io
import math
import random
from dataclasses import dataclass
from typing import Any

__all__ = ["Stamp", "attachment", "ct_series", "dicom_identity", "ecg_png", "large_ct_series", "single", "slide_jpeg"]

HEAD_CT = "J2K_pixelrep_mismatch.dcm"  # a real head CT, 512×512, JPEG 2000 lossless
BODY_CT = "CT_small.dcm"
MR_FILES = ("MR_small.dcm", "MR_small_RLE.dcm", "MR_small_jp2klossless.dcm")
MR_ABDOMEN = "examples_overlay.dcm"
US_FILE = "examples_rgb_color.dcm"
DX_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.1.1"  # Digital X-Ray Image Storage – For Presentation
BODY_PARTS = {"head": "HEAD", "chest": "CHEST", "abdomen": "ABDOMEN", "liver": "ABDOMEN", "pelvis": "PELVIS",
              "spine": "SPINE", "lower_limb": "LEG", "upper_limb": "ARM", "neck": "NECK", "thyroid": "NECK",
              "breast": "BREAST", "heart": "HEART"}


def dicom_identity(patient: Any) -> dict[str, str]:
    """The patient as a scanner's worklist writes them: ``SURNAME^GIVEN`` in pinyin, the resident
    ID, date of birth and sex."""
    from pypinyin import Style, lazy_pinyin

    syllables = lazy_pinyin(patient.name, style=Style.NORMAL, errors="ignore") or ["?"]
    return {"PatientName": f"{syllables[0].upper()}^{''.join(syllables[1:]).upper()}",
            "PatientID": patient.id_number or "", "PatientBirthDate": patient.birth_date.strftime("%Y%m%d"),
            "PatientSex": {"male": "M", "female": "F"}.get(patient.sex, "O")}


@dataclass(frozen=True)
class Stamp:
    """What a scanner writes into every instance of one study."""

    identity: dict[str, str]
    when: dt.datetime
    accession: str
    body_site: str
    description: str = ""

    @functools.cached_property
    def study_uid(self) -> str:
        return _uid()


@functools.cache
def _source(name: str) -> Any:
    """pydicom's test file, parsed once (callers change copies only)."""
    from pydicom import dcmread
    from pydicom.data import get_testdata_file

    path = get_testdata_file(name)
    if not path:
        raise FileNotFoundError(f"pydicom test file {name} is missing")
    return dcmread(path)


@functools.cache
def _working(name: str, modality: str = "") -> Any:
    """A copy of the test file to stamp over and over: every series overwrites all that
    ``_stamp`` and its caller set (copying the dataset for each would cost more than the rest)."""
    ds = copy.deepcopy(_source(name))
    if modality == "DX":
        ds.Modality = "DX"
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = DX_SOP_CLASS
        for key in ("SliceLocation", "SliceThickness", "ImagePositionPatient", "ImageOrientationPatient"):
            if key in ds:
                delattr(ds, key)
    return ds


def _stamped(name: str, stamp: Stamp, *, series_uid: str, series_number: int, number: int,
             modality: str = "") -> Any:
    return _stamp(_working(name, modality), stamp, series_uid=series_uid, series_number=series_number,
                  number=number)


def _stamp(ds: Any, stamp: Stamp, *, series_uid: str, series_number: int, number: int) -> Any:
    for key, value in stamp.identity.items():
        setattr(ds, key, value)
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID = stamp.study_uid, series_uid, _uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    day, time = stamp.when.strftime("%Y%m%d"), stamp.when.strftime("%H%M%S")
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = day
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = time
    ds.AccessionNumber = stamp.accession[:16]
    ds.StudyID = stamp.accession[-8:]
    ds.InstitutionName = "FUPING COUNTY"
    ds.BodyPartExamined = BODY_PARTS.get(stamp.body_site, "")
    ds.StudyDescription = stamp.description[:64]
    ds.SeriesNumber, ds.InstanceNumber = series_number, number
    return ds


def _bytes(ds: Any) -> bytes:
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


@functools.cache
def _head_template() -> tuple[Any, Any]:
    """The head CT decoded once, halved to 256×256, as an uncompressed template and its pixels."""
    import numpy as np

    ds = copy.deepcopy(_source(HEAD_CT))
    arr = ds.pixel_array.astype(np.int32)
    half = ((arr[0::2, 0::2] + arr[1::2, 0::2] + arr[0::2, 1::2] + arr[1::2, 1::2]) // 4).astype(np.int16)
    ds.set_pixel_data(half, photometric_interpretation="MONOCHROME2", bits_stored=16)
    ds.PixelSpacing = [float(v) * 2 for v in _source(HEAD_CT).PixelSpacing]
    ds.RescaleIntercept, ds.RescaleSlope = 0, 1
    ds.WindowCenter, ds.WindowWidth = 40, 80
    return ds, half


def _head_slice(base: Any, i: int, count: int, lesion: bool) -> Any:
    """Slice ``i`` of ``count``: the head narrows towards the vertex (nearest-neighbour zoom);
    ``lesion`` draws a hyperdense haematoma (about 65 HU) in the middle slices."""
    import numpy as np

    size = base.shape[0]
    scale = 0.55 + 0.45 * math.sin(math.pi * (0.15 + 0.8 * (i + 0.5) / count))
    centre = (size - 1) / 2
    idx = np.clip(np.round(centre + (np.arange(size) - centre) / scale), 0, size - 1).astype(np.intp)
    inside = np.abs(np.arange(size) - centre) / scale <= centre
    out = base[np.ix_(idx, idx)].copy()
    out[~inside, :] = -1000
    out[:, ~inside] = -1000
    if lesion and abs(i - count / 2) < count / 5:
        yy, xx = np.ogrid[:size, :size]
        r = size * (0.07 - 0.02 * abs(i - count / 2) / (count / 5))
        mask = ((yy - size * 0.52) / (r * 1.3)) ** 2 + ((xx - size * 0.62) / r) ** 2 <= 1
        out[mask & (out > 0) & (out < 80)] = 65
    return out


def ct_series(stamp: Stamp, count: int, *, lesion: bool = False) -> list[bytes]:
    """``count`` slices of one CT series: a head from the real head CT, other sites from
    ``CT_small.dcm``; consecutive positions 5 mm apart, each slice its own pixels."""
    import numpy as np

    head = stamp.body_site == "head"
    template, base = _head_template() if head else (_working(BODY_CT), _source(BODY_CT).pixel_array)
    ds = _stamp(template, stamp, series_uid=_uid(), series_number=2, number=1)
    ds.SeriesDescription = "AXIAL 5MM BRAIN" if head else "AXIAL 5MM"
    z0 = float(_source(HEAD_CT if head else BODY_CT).ImagePositionPatient[2])
    out = []
    for i in range(count):
        pixels = _head_slice(base, i, count, lesion) if head else np.roll(base, i * 2 - count, axis=0)
        out.append(_slice(ds, i, z0, pixels.astype(np.int16)))
    return out


def _uid() -> str:
    from pydicom.uid import generate_uid

    return str(generate_uid())


def _slice(ds: Any, i: int, z0: float, pixels: Any) -> bytes:
    """Slice ``i`` of the series ``ds`` stands for: its own instance UID, number, position, pixels."""
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = _uid()
    ds.InstanceNumber = i + 1
    ds.ImagePositionPatient = [*(float(v) for v in ds.ImagePositionPatient[:2]), z0 + 5.0 * i]
    ds.SliceLocation, ds.SliceThickness = z0 + 5.0 * i, 5.0
    ds.PixelData = pixels.tobytes()
    return _bytes(ds)


def single(modality: str, stamp: Stamp, count: int = 1, *, variant: int = 0) -> list[bytes]:
    """``count`` instances of one DR/X-ray, MR or ultrasound series."""
    series = _uid()
    out = []
    for i in range(count):
        if modality == "DX":
            ds = _stamped(BODY_CT, stamp, series_uid=series, series_number=1, number=i + 1, modality="DX")
            ds.ViewPosition = ("PA", "LAT")[i % 2]
        elif modality == "MR":
            name = MR_ABDOMEN if stamp.body_site in ("abdomen", "liver") else MR_FILES[(variant + i) % len(MR_FILES)]
            ds = _stamped(name, stamp, series_uid=series, series_number=3, number=i + 1)
        elif modality == "US":
            ds = _stamped(US_FILE, stamp, series_uid=series, series_number=1, number=i + 1)
        else:
            raise ValueError(f"no DICOM source for {modality}")
        out.append(_bytes(ds))
    return out


# --- pictures drawn with Pillow -------------------------------------------------------------------

_LEADS = (("I", 0.6, 0.8), ("aVR", -0.5, -0.7), ("V1", -0.3, 0.3), ("V4", 1.3, 1.0),
          ("II", 1.0, 1.0), ("aVL", 0.3, 0.4), ("V2", -0.2, 0.7), ("V5", 1.2, 0.9),
          ("III", 0.5, 0.5), ("aVF", 0.8, 0.8), ("V3", 0.5, 0.9), ("V6", 0.9, 0.7))
_INFERIOR = {"II", "III", "aVF"}


def _beats(rng: random.Random, rhythm: str, rate: int, seconds: float) -> list[float]:
    times, t = [], rng.uniform(0.05, 0.4)
    while t < seconds:
        times.append(t)
        rr = 60 / rate
        t += rr * (rng.uniform(0.6, 1.4) if rhythm == "af" else rng.uniform(0.97, 1.03))
    return times


def _trace(t: Any, beats: list[float], lead: tuple[str, float, float], rhythm: str, rng: random.Random) -> Any:
    import numpy as np

    name, r_amp, t_amp = lead
    y = np.zeros_like(t)

    def wave(centre: float, width: float, height: float) -> Any:
        return height * np.exp(-((t - centre) / width) ** 2)

    for b in beats:
        if rhythm != "af":
            y += wave(b - 0.16, 0.025, 0.12 * (1 if r_amp > 0 else -1))
        y += wave(b - 0.025, 0.008, -0.12 * abs(r_amp)) + wave(b, 0.012, r_amp) + wave(b + 0.03, 0.01, -0.25 * abs(r_amp))
        y += wave(b + 0.28, 0.06, 0.25 * t_amp)
        if rhythm == "stemi" and name in _INFERIOR:
            y += 0.25 * ((t > b + 0.05) & (t < b + 0.3))
    if rhythm == "af":
        y += 0.04 * np.sin(2 * math.pi * 6.3 * t + rng.uniform(0, 6)) + 0.02 * np.sin(2 * math.pi * 8.9 * t)
    return y


def ecg_png(rng: random.Random, rhythm: str = "sinus", rate: int = 72) -> bytes:
    """A twelve-lead ECG on paper (25 mm/s, 10 mm/mV): 3×4 leads and a lead II rhythm strip.
    ``rhythm``: ``sinus``, ``af`` (atrial fibrillation) or ``stemi`` (inferior ST elevation)."""
    import numpy as np
    from PIL import Image, ImageDraw

    mm, left, top = 4, 20, 36  # pixels per millimetre; margins
    width, height = left * 2 + 250 * mm, top + 4 * 25 * mm + 16
    img = Image.new("RGB", (width, height), (255, 247, 247))
    draw = ImageDraw.Draw(img)
    for x in range(left, width - left + 1, mm):
        draw.line([(x, top), (x, height - 8)], fill=(246, 200, 200) if (x - left) % (5 * mm) else (232, 140, 140))
    for y in range(top, height - 7, mm):
        draw.line([(left, y), (width - left, y)], fill=(246, 200, 200) if (y - top) % (5 * mm) else (232, 140, 140))
    seconds = 10.0
    beats = _beats(rng, rhythm, rate, seconds)
    t = np.arange(0, seconds, 1 / (25 * mm))  # one sample per pixel
    for row in range(4):
        baseline = top + row * 25 * mm + 15 * mm
        leads = _LEADS[row * 4:row * 4 + 4] if row < 3 else (_LEADS[4],)
        for col, lead in enumerate(leads):
            span = slice(col * 250, (col + 1) * 250) if row < 3 else slice(0, len(t))
            y = _trace(t[span], beats, lead, rhythm, rng) + rng.uniform(-0.01, 0.01)
            xs = left + np.arange(span.start, span.start + len(y))
            ys = baseline - y * 10 * mm
            draw.line(list(zip(xs.tolist(), ys.tolist(), strict=True)), fill=(20, 20, 20), width=1)
            draw.text((int(xs[0]) + 4, baseline - 14 * mm), lead[0], fill=(0, 0, 0))
    shown = round(60 * (len(beats) - 1) / (beats[-1] - beats[0])) if len(beats) > 1 else rate
    draw.text((left, 10), f"25 mm/s   10 mm/mV   HR {shown} bpm   0.05-150 Hz", fill=(0, 0, 0))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def slide_jpeg(rng: random.Random, kind: str = "tissue", size: tuple[int, int] = (800, 600)) -> bytes:
    """A photo of a slide: an H&E-stained section (``tissue``: glands of purple nuclei in pink
    stroma; ``crowded``: crowded, irregular nuclei) or a cervical smear (``smear``)."""
    from PIL import Image, ImageDraw, ImageFilter

    w, h = size
    background = (246, 236, 240) if kind == "smear" else (238, 190, 210)
    img = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(img)
    if kind == "smear":
        for _i in range(140):
            x, y, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(14, 30)
            tone = rng.choice([(170, 205, 225), (240, 170, 190), (200, 220, 200)])
            draw.ellipse([x - r, y - r * 0.8, x + r, y + r * 0.8], fill=tone, outline=(150, 150, 180))
            n = rng.uniform(3, 6)
            draw.ellipse([x - n, y - n, x + n, y + n], fill=(70, 50, 120))
    else:
        crowded = kind == "crowded"
        for _i in range(26 if not crowded else 40):
            cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(25, 60)
            draw.ellipse([cx - r, cy - r * 0.7, cx + r, cy + r * 0.7], fill=(250, 235, 240))
            for k in range(int(r * (0.9 if not crowded else 1.6))):
                a = 2 * math.pi * k / (r * (0.9 if not crowded else 1.6))
                jitter = rng.uniform(0.9, 1.15) if not crowded else rng.uniform(0.6, 1.4)
                x, y = cx + r * jitter * math.cos(a), cy + r * 0.7 * jitter * math.sin(a)
                n = rng.uniform(2.5, 4) if not crowded else rng.uniform(3.5, 7)
                draw.ellipse([x - n, y - n * 0.7, x + n, y + n * 0.7], fill=(90, 40, 130))
        for _i in range(700):
            x, y, n = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(1.5, 3)
            draw.ellipse([x - n * 1.6, y - n * 0.6, x + n * 1.6, y + n * 0.6], fill=(120, 60, 140))
    img = img.filter(ImageFilter.GaussianBlur(1.2))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def attachment(modality: str, rng: random.Random, variant: str) -> tuple[str, bytes, str]:
    """(file name, bytes, content type) of an ECG tracing or a slide photo."""
    if modality == "ECG":
        return "ecg.png", ecg_png(rng, variant or "sinus", rng.randint(62, 96) if variant != "af" else 110), \
            "image/png"
    return "slide.jpg", slide_jpeg(rng, variant or "tissue"), "image/jpeg"


def large_ct_series(identity: dict[str, str], count: int, *, side: int = 512) -> list[bytes]:
    """A CT series of ``count`` ``side``×``side`` slices (benchmarks): ``CT_small.dcm``'s real
    pixels upscaled (nearest neighbour) and shifted slice by slice, fresh UIDs."""
    import numpy as np

    factor = side // 128
    pixels = np.kron(_source(BODY_CT).pixel_array, np.ones((factor, factor), dtype=np.int16))
    stamp = Stamp(identity=identity, when=dt.datetime.now(dt.UTC), accession="BENCH", body_site="chest",
                  description="CT CHEST")
    ds = _stamp(copy.deepcopy(_source(BODY_CT)), stamp, series_uid=_uid(), series_number=2, number=1)
    ds.Rows = ds.Columns = side
    ds.PixelSpacing = [float(v) / factor for v in ds.PixelSpacing]
    z0 = float(_source(BODY_CT).ImagePositionPatient[2])
    return [_slice(ds, i, z0, np.roll(pixels, i - count // 2, axis=0).astype(np.int16)) for i in range(count)]
