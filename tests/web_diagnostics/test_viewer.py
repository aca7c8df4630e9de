"""The viewer and its frames: the page lists the series' slices (the frames of a multi-frame image
count as slices) and offers window presets for CT; each frame is a real PNG rendered from the
DICOM, different for each preset, smaller as a thumbnail, kept by the browser (private cache,
ETag), 422 without an image when it cannot be drawn, 404 for whoever may not see it; the same
through a real Orthanc."""

from __future__ import annotations

import io
import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from medunion.diagnostics.models import Instance
from tests.diagnostics.conftest import identity_of, new_ct, restamp, uploaded_ct

from .conftest import client, json_client, page

pytestmark = pytest.mark.django_db
PNG = b"\x89PNG\r\n\x1a\n"


def _slices(body: str) -> list[list]:
    found = re.search(r'<script id="viewer-slices" type="application/json">(.*?)</script>', body, re.S)
    assert found
    return json.loads(found.group(1))


@pytest.mark.parametrize("lang", ["en", "zh-hans"])
def test_the_viewer_lists_the_slices_and_offers_ct_presets(dw, lang):
    exam = uploaded_ct(dw, slices=3)
    doctor = client("township_doctor", lang)
    shown = doctor.get(f"/examinations/{exam.pk}/viewer")
    assert shown.status_code == 200
    body = page(shown)
    first = list(Instance.objects.filter(examination=exam).order_by("number"))
    assert _slices(body) == [[str(i.pk), 0] for i in first]
    assert "2 / 3" in body  # it opens in the middle of the series
    assert 'data-testid="presets"' in body and 'data-preset="lung"' in body and 'data-preset="bone"' in body
    assert f"/frames/{first[1].pk}.png?preset=default&amp;size=full&amp;frame=0" in body
    later = page(doctor.get(f"/examinations/{exam.pk}/viewer?series={first[0].series_id}&slice=3&preset=lung"))
    assert "3 / 3" in later and f"/frames/{first[2].pk}.png?preset=lung" in later and 'data-testid="next"' not in later
    for persona in ("village_doctor_b", "outsider", "patient_a", "coordinator"):
        assert client(persona).get(f"/examinations/{exam.pk}/viewer").status_code == 404, persona
    assert client("hub_radiologist", lang).get(f"/examinations/{exam.pk}/viewer").status_code == 200
    assert doctor.get(f"/examinations/{exam.pk}/viewer?series={exam.pk}").status_code == 404  # not a series


def test_a_multi_frame_image_counts_its_frames_as_slices_and_mr_has_no_presets(dw):
    exam = new_ct(dw, modality="MR", body_site="head")
    data = restamp("emri_small.dcm", identity_of(dw.patient, dw.world.patients["patient_a_id_number"]),
                   fresh_uids=True)
    sent = json_client("township_doctor").post(f"/examinations/{exam.pk}/upload", {
        "file": SimpleUploadedFile("MR0001", data, content_type="application/dicom")})
    assert sent.status_code == 200, sent.content
    inst = Instance.objects.get(examination=exam)
    assert inst.frames > 1
    body = page(client("township_doctor").get(f"/examinations/{exam.pk}/viewer"))
    assert _slices(body) == [[str(inst.pk), n] for n in range(inst.frames)]
    assert 'data-testid="presets"' not in body
    last = client("township_doctor").get(f"/examinations/{exam.pk}/frames/{inst.pk}.png?frame={inst.frames - 1}")
    assert last.status_code == 200 and last.content.startswith(PNG)
    beyond = client("township_doctor").get(f"/examinations/{exam.pk}/frames/{inst.pk}.png?frame={inst.frames}")
    assert beyond.status_code == 422 and beyond["Content-Type"].startswith("text/plain")


def test_frames_are_pngs_that_differ_by_preset(dw):
    exam = uploaded_ct(dw, slices=2)
    inst = Instance.objects.filter(examination=exam).order_by("number").first()
    doctor = client("township_doctor")
    url = f"/examinations/{exam.pk}/frames/{inst.pk}.png"
    pngs = {}
    for preset in ("default", "lung", "bone", "brain"):
        got = doctor.get(f"{url}?preset={preset}")
        assert got.status_code == 200 and got["Content-Type"] == "image/png", preset
        assert got["Cache-Control"].startswith("private, max-age=")
        assert got.content.startswith(PNG)
        pngs[preset] = got.content
    assert len(set(pngs.values())) == 4
    full = Image.open(io.BytesIO(pngs["default"]))
    thumb = Image.open(io.BytesIO(doctor.get(f"{url}?size=thumb").content))
    assert full.size == (128, 128) and max(thumb.size) <= 160
    tag = doctor.get(url)["ETag"]
    assert doctor.get(url, headers={"if-none-match": tag}).status_code == 304
    for bad in ("?preset=rainbow", "?size=huge", "?frame=-1", "?frame=7"):
        refused = doctor.get(url + bad)
        assert refused.status_code == 422 and not refused.content.startswith(PNG), bad
    for persona in ("village_doctor_b", "outsider", "patient_a"):
        assert client(persona).get(url).status_code == 404, persona
    other = uploaded_ct(dw, slices=1, body_site="chest")
    assert doctor.get(f"/examinations/{other.pk}/frames/{inst.pk}.png").status_code == 404  # not its instance


def test_upload_and_view_through_the_archive(dw, archive):
    exam = new_ct(dw)
    data = restamp("CT_small.dcm", identity_of(dw.patient, dw.world.patients["patient_a_id_number"]),
                   fresh_uids=True)
    sent = json_client("township_doctor").post(f"/examinations/{exam.pk}/upload", {
        "file": SimpleUploadedFile("IM0001.dcm", data, content_type="application/dicom")})
    assert sent.status_code == 200 and sent.json()["created"] is True
    inst = Instance.objects.get(examination=exam)
    assert inst.archive == archive
    png = client("township_doctor").get(f"/examinations/{exam.pk}/frames/{inst.pk}.png?preset=soft_tissue")
    assert png.status_code == 200 and png.content.startswith(PNG)
