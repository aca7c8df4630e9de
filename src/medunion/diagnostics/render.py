"""Frames rendered server-side from DICOM for the viewer: PNGs at a window/level preset.

Parsed datasets and rendered frames are kept in small in-process LRU caches (an instance's
bytes never change), so scrolling back and forth through a series decodes each slice once.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from typing import Any

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from medunion.core.errors import ValidationFailed
from medunion.files import dicom

# Presets a CT reader expects; "default" is the header's own window (or a sensible one).
PRESETS: dict[str, Any] = {
    "default": pgettext_lazy("window", "default"),
    "soft_tissue": pgettext_lazy("window", "soft tissue"),
    "lung": pgettext_lazy("window", "lung"),
    "bone": pgettext_lazy("window", "bone"),
    "brain": pgettext_lazy("window", "brain"),
    "liver": pgettext_lazy("window", "liver"),
}
SIZES = {"thumb": 160, "full": 1024}


class _LRU:
    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[Any, Any] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        return None

    def put(self, key: Any, value: Any) -> None:
        with self.lock:
            self.items[key] = value
            self.items.move_to_end(key)
            while len(self.items) > self.size:
                self.items.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.items.clear()


_datasets = _LRU(32)
_frames = _LRU(512)


def dataset(instance: Any) -> Any:
    """The parsed dataset of an ``Instance`` (from its archive), cached."""
    from pydicom import dcmread

    cached = _datasets.get(instance.pk)
    if cached is not None:
        return cached
    from .archive import get_archive

    data = get_archive(instance.archive).get(instance)
    try:
        ds = dcmread(io.BytesIO(data))
    except Exception as exc:
        raise ValidationFailed(_("The DICOM file is damaged or incomplete and cannot be read."), field="file") from exc
    _datasets.put(instance.pk, ds)
    return ds


def frame_png(instance: Any, *, frame: int = 0, preset: str = "default", size: str = "full") -> bytes:
    if preset not in PRESETS:
        raise ValidationFailed(_("Unknown window preset."), field="preset")
    if size not in SIZES:
        raise ValidationFailed(_("Unknown image size."), field="size")
    key = (instance.pk, frame, preset, size)
    cached = _frames.get(key)
    if cached is not None:
        return bytes(cached)
    window = dicom.CT_WINDOWS.get(preset) if preset != "default" else None
    png = dicom.render_png(dataset(instance), frame=frame, window=window, max_side=SIZES[size])
    _frames.put(key, png)
    return png


def clear_caches() -> None:
    _datasets.clear()
    _frames.clear()
