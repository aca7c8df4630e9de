"""Viewing over the API: the examination as each one may see it, frames rendered server-side (each
fetch audited), the patient's own signed reports only, and 404 for everyone else."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from medunion.audit.models import AuditEvent

from .conftest import REPORT, assert_problem, photo, request_ct, signed, uploaded

DRAFT = "草稿：尚未签发"


def _first_instance(api, eid: str, persona: str = "hub_radiologist") -> dict:
    return api(persona).get(f"/examinations/{eid}").json()["clinical"]["series"][0]


def test_frames_render_at_presets_and_are_audited(dw, api):
    eid = uploaded(api, dw, slices=3)
    series = _first_instance(api, eid)
    assert series["instance_count"] == 3 and series["key_instance_id"] == series["instances"][1]["id"]
    assert [i["number"] for i in series["instances"]] == [1, 2, 3]
    inst = series["instances"][0]["id"]
    reader = api("hub_radiologist")
    before = AuditEvent.objects.filter(action="examination.image.read").count()
    full = reader.get(f"/examinations/{eid}/instances/{inst}/frames/1.png")
    assert full.status_code == 200, full.content
    assert full["Content-Type"] == "image/png" and full["Cache-Control"] == "private, no-store"
    lung = reader.get(f"/examinations/{eid}/instances/{inst}/frames/1.png", {"preset": "lung", "size": "thumb"})
    assert lung.status_code == 200
    big, thumb = Image.open(io.BytesIO(full.content)), Image.open(io.BytesIO(lung.content))
    assert max(thumb.size) <= 160 and max(big.size) >= max(thumb.size)
    assert full.content != reader.get(f"/examinations/{eid}/instances/{inst}/frames/1.png",
                                      {"preset": "bone"}).content
    assert AuditEvent.objects.filter(action="examination.image.read").count() == before + 3
    problem = assert_problem(reader.get(f"/examinations/{eid}/instances/{inst}/frames/1.png", {"preset": "x"}), 422)
    assert "preset" in problem["errors"]
    assert_problem(reader.get(f"/examinations/{eid}/instances/{inst}/frames/0.png"), 422)
    assert_problem(reader.get(f"/examinations/{eid}/instances/{inst}/frames/2.png"), 404)  # one frame only
    other = uploaded(api, dw, body_site="chest")
    assert_problem(reader.get(f"/examinations/{other}/instances/{inst}/frames/1.png"), 404)  # not this exam's
    for persona in ("village_doctor_b", "outsider", "patient_a", "coordinator"):
        assert_problem(api(persona).get(f"/examinations/{eid}/instances/{inst}/frames/1.png"), 404)


def test_what_each_one_sees(dw, api):
    eid = uploaded(api, dw)
    api("hub_radiologist").post(f"/examinations/{eid}/claim", {})
    api("hub_radiologist").put(f"/examinations/{eid}/report/draft", {"findings": DRAFT, "impression": DRAFT})
    # While it is read: the requesting side, the hub's readers, the care team — not the patient, nor the
    # treating clinicians of the consortium (that is for signed reports).
    for persona, roles in (("township_doctor", {"requester", "requesting", "care_team"}),
                           ("hub_radiologist", {"hub_reader", "reader"}),
                           ("hub_radiologist_b", {"hub_reader"}), ("county_doctor", {"care_team"})):
        body = api(persona).get(f"/examinations/{eid}").json()
        assert roles <= set(body["roles"]), (persona, body["roles"])
        assert (body["clinical"]["draft"] is not None) == (persona == "hub_radiologist")
    for persona in ("patient_a", "village_doctor_b", "outsider", "cardiologist_tertiary", "coordinator",
                    "commission_viewer", "sysadmin"):
        assert_problem(api(persona).get(f"/examinations/{eid}"), 404)
    assert_problem(api("township_doctor").get("/examinations/01a20000-0000-7000-8000-000000000000"), 404)
    assert_problem(api("township_doctor").get("/examinations/not-a-uuid"), 422)


def test_the_patient_sees_their_signed_reports_only(dw, api):
    eid = signed(api, dw, critical=True, critical_note="急性脑出血")
    reading = uploaded(api, dw, body_site="chest")
    api("hub_radiologist").post(f"/examinations/{reading}/claim", {})
    api("hub_radiologist").put(f"/examinations/{reading}/report/draft", {"findings": DRAFT, "impression": DRAFT})
    patient = api("patient_a")
    listing = patient.get("/examinations").json()
    assert [e["id"] for e in listing["items"]] == [eid] and listing["items"][0]["question"] is None
    assert patient.get("/examinations", {"list": "worklist"}).json()["items"][0]["id"] == eid  # lists are clinicians'
    view = patient.get(f"/examinations/{eid}").json()
    assert view["roles"] == ["patient"] and view["events"] == [] and view["acts"] == []
    assert view["clinical"] is None and view["reports"][0]["impression"] == REPORT["impression"]
    assert_problem(patient.get(f"/examinations/{reading}"), 404)
    for path in (f"/examinations/{eid}/files", f"/examinations/{eid}/recognise", "/critical-findings",
                 "/examinations/counts"):
        response = patient.post(path, {}) if path.endswith("recognise") else patient.get(path)
        assert_problem(response, 404)
    served = json.dumps([listing, view], ensure_ascii=False)
    assert DRAFT not in served and "突发头痛" not in served  # neither the draft nor the clinical question


def test_attachments_are_for_clinicians(dw, api):
    doctor = api("township_doctor")
    us = request_ct(api, dw, modality="US", body_site="liver", question="右上腹痛")["summary"]["id"]
    doctor.upload(us, photo(), name="liver.jpg", content_type="image/jpeg")
    [att] = doctor.get(f"/examinations/{us}").json()["clinical"]["attachments"]
    assert att["filename"] == "liver.jpg" and att["content_type"] == "image/jpeg"
    assert doctor.client.get(att["url"]).status_code == 200
    for persona in ("village_doctor_b", "hub_sonographer", "patient_a"):  # hub readers see it once it is sent
        assert_problem(api(persona).client.get(att["url"]), 404)
    doctor.post(f"/examinations/{us}/submit", {})
    assert api("hub_sonographer").client.get(att["url"]).status_code == 200


@pytest.mark.parametrize("path", ["/examinations", "/examinations/counts", "/critical-findings"])
def test_other_roles_have_no_examinations(dw, api, path):
    for persona in ("coordinator", "commission_viewer", "sysadmin", "secadmin", "auditadmin"):
        assert_problem(api(persona).get(path), 404)
