"""The viewer: the examination's series as thumbnails, one series' slices scrolled by slider,
wheel, keys or swipe, window/level presets for CT, zoom and pan. Frames are rendered on the
server from DICOM (``diagnostics.render``) and fetched one PNG at a time; the page works without
its script too (previous / next links).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from medunion.access.loaders import parse_uuid
from medunion.core.errors import NotFound, ValidationFailed
from medunion.diagnostics import queries as dq
from medunion.diagnostics.notices import examination_url
from medunion.diagnostics.render import PRESETS, SIZES, frame_png

from .common import clinician_page

# Frames never change once stored: the browser keeps them (for this user only) a day.
FRAME_MAX_AGE = 24 * 3600


def frame_url(exam_id: Any, instance_id: Any, *, frame: int = 0, preset: str = "default", size: str = "full") -> str:
    return f"{examination_url(exam_id)}/frames/{instance_id}.png?preset={preset}&size={size}&frame={frame}"


def _int(raw: str | None, default: int) -> int:
    return int(raw) if raw and raw.isdigit() else default


@clinician_page
@require_GET
def viewer(request: HttpRequest, examination_id: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    view = dq.examination_view(actor, examination_id)
    exam = view.exam
    series = [sv for sv in view.series if sv.instances]
    chosen = series[0] if series else None
    if request.GET.get("series"):
        pk = parse_uuid(request.GET["series"])
        chosen = next((sv for sv in series if sv.series.pk == pk), None)
        if chosen is None:
            raise NotFound()
    slices: list[tuple[str, int]] = [(str(i.pk), n) for i in chosen.instances
                                     for n in range(max(1, i.frames))] if chosen else []
    ct = chosen is not None and (chosen.series.modality == "CT" or exam.modality == "CT")
    preset = request.GET.get("preset", "default")
    if preset not in PRESETS or not ct:
        preset = "default"
    index = min(max(_int(request.GET.get("slice"), len(slices) // 2 + 1) - 1, 0), max(len(slices) - 1, 0))
    here = f"{examination_url(exam.pk)}/viewer?series={chosen.series.pk}&preset={preset}" if chosen else ""
    return render(request, "web/diagnostics/viewer.html", {
        "e": exam, "series": [{"s": sv.series, "key": sv.key_instance, "slices": sum(max(1, i.frames)
                                                                                    for i in sv.instances)}
                              for sv in series],
        "chosen": chosen.series if chosen else None, "slices": slices, "index": index, "preset": preset,
        "presets": list(PRESETS.items()) if ct else [], "frames_base": f"{examination_url(exam.pk)}/frames/",
        "image": frame_url(exam.pk, slices[index][0], frame=slices[index][1], preset=preset) if slices else "",
        "prev": f"{here}&slice={index}" if slices and index > 0 else "",
        "next": f"{here}&slice={index + 2}" if slices and index + 1 < len(slices) else "",
        "here": here, "viewer_texts": {"unrenderable": _("This image could not be shown."),
                                        "loading": _("Loading…")}, "nav": "examinations"})


def _unrenderable(message: str) -> HttpResponse:
    """What an <img> gets for a frame that cannot be drawn: no image, the reason in words."""
    response = HttpResponse(message, status=422, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@clinician_page
@require_GET
def frame(request: HttpRequest, examination_id: Any, instance_id: Any) -> HttpResponse:
    """One frame as a PNG at a window/level preset (``default`` is the image's own window) and a
    size (``full`` or ``thumb``); 404 when the examination is not the caller's to see, 422 when
    the frame cannot be drawn. Each fetch is an audited read."""
    actor = request.actor  # type: ignore[attr-defined]
    preset = request.GET.get("preset") or "default"
    size = request.GET.get("size") or "full"
    raw = request.GET.get("frame") or "0"
    if preset not in PRESETS:
        return _unrenderable(_("Unknown window preset."))
    if size not in SIZES:
        return _unrenderable(_("Unknown image size."))
    if not raw.isdigit():
        return _unrenderable(_("There is no such frame in this image."))
    inst = dq.access_instance(actor, examination_id, instance_id)
    tag = f'"{inst.sha256[:20]}-{int(raw)}-{preset}-{size}"'
    if request.headers.get("If-None-Match") == tag:
        response = HttpResponse(status=304)
    else:
        try:
            png = frame_png(inst, frame=int(raw), preset=preset, size=size)
        except ValidationFailed as exc:
            messages = [m for ms in exc.errors.values() for m in ms]
            return _unrenderable(" ".join(messages) or str(exc.message))
        response = HttpResponse(png, content_type="image/png")
    response["ETag"] = tag
    response["Cache-Control"] = f"private, max-age={FRAME_MAX_AGE}"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response
